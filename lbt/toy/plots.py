"""The toy training stage's figure."""

from __future__ import annotations

from matplotlib.figure import Figure


def training_loss(losses: dict[str, list[float]]) -> Figure:
    """The training loss of each toy model (by role), per step."""
    fig = Figure(figsize=(5, 2.8))
    ax = fig.subplots()
    for role, values in losses.items():
        ax.plot(values, lw=0.8, label=role)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title("Toy models' training")
    fig.tight_layout()
    return fig
