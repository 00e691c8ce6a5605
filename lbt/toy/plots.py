"""The toy training stage's figure."""

from __future__ import annotations

from matplotlib.figure import Figure


def training_curves(reports: dict[str, dict]) -> Figure:
    """Each toy model's (by role) training loss per step, and its probe accuracy."""
    fig = Figure(figsize=(8, 2.8))
    loss_ax, probe_ax = fig.subplots(1, 2)
    for role, report in reports.items():
        loss_ax.plot(report["losses"], lw=0.8, label=role)
        if report["probes"]:
            steps, accuracy = zip(*report["probes"])
            probe_ax.plot(steps, accuracy, marker=".", lw=0.8, label=role)
    loss_ax.set(yscale="log", xlabel="step", ylabel="loss", title="Training loss")
    probe_ax.set(xlabel="step", ylabel="share of probe rationales right", ylim=(0, 1.02),
                 title="Held-out probe (greedy)")
    for ax in (loss_ax, probe_ax):
        ax.legend()
    fig.tight_layout()
    return fig
