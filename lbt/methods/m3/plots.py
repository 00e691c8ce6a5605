"""M3's figure: the teacher's held-out score with the best set, per iteration, per student setting."""

from __future__ import annotations

import polars as pl
from matplotlib.figure import Figure

from lbt import paths


def heldout_curve(summary: pl.DataFrame, metric: str) -> Figure:
    """Mean ± standard error over runs of the held-out score (summary: setting, iteration, mean, se)."""
    fig = Figure(figsize=(5, 3.2))
    ax = fig.subplots()
    for (setting,), part in summary.sort("iteration").group_by(["setting"], maintain_order=True):
        ax.errorbar(part["iteration"], 100 * part["mean"], yerr=100 * part["se"], marker="o", capsize=3, label=setting)
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"teacher's held-out {'F1' if metric == 'f1' else 'accuracy'} (%)")
    ax.set_xticks(sorted(set(summary["iteration"])))
    ax.legend(title="students", fontsize=8)
    ax.set_title("M3: exemplar refinement")
    fig.tight_layout()
    return fig


def write_m3_plot(summary: pl.DataFrame, metric: str) -> None:
    paths.FIGURES.mkdir(parents=True, exist_ok=True)
    heldout_curve(summary, metric).savefig(paths.figure(paths.M3_FIGURE), dpi=120, bbox_inches="tight")
