"""The toy training stage's figure."""

from __future__ import annotations

from matplotlib.figure import Figure


def training_loss(losses: list[float], role: str) -> Figure:
    fig = Figure(figsize=(5, 2.8))
    ax = fig.subplots()
    ax.plot(losses, lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"Toy {role} training")
    fig.tight_layout()
    return fig
