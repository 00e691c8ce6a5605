"""M2's figures: DPO's curves per step and the held-out accuracy of each teacher (PNG files,
the stages' DVC plots; matplotlib's object API)."""

from __future__ import annotations

import polars as pl
from matplotlib.figure import Figure

from lbt import paths

LABELS = {"original": "original", "correctness_dpo": "correctness-DPO", "m2": "M2"}
PANELS = (("loss", "loss"), ("rewards/margins", "reward margin"), ("rewards/accuracies", "preference accuracy"))


def training_curves(curves: pl.DataFrame) -> Figure:
    """Loss, reward margin and preference accuracy per step, one colour per pair set, one line per seed."""
    fig = Figure(figsize=(11, 3.0))
    axes = fig.subplots(1, len(PANELS))
    colours = {s: f"C{i}" for i, s in enumerate(LABELS)}
    for (pair_set, seed), run in curves.sort("step").group_by("pair_set", "seed", maintain_order=True):
        for ax, (column, _) in zip(axes, PANELS):
            ax.plot(run["step"], run[column], color=colours[pair_set], alpha=0.8,
                    label=f"{LABELS[pair_set]} (seed {seed})")
    for ax, (_, title) in zip(axes, PANELS):
        ax.set_xlabel("step")
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def accuracy_bars(summary: dict) -> Figure:
    """Greedy held-out accuracy of each teacher: mean ± std over training seeds."""
    names = [v for v in LABELS if v in summary]
    fig = Figure(figsize=(4.2, 3.0))
    ax = fig.subplots()
    bars = ax.bar([LABELS[v] for v in names], [100 * summary[v]["mean"] for v in names],
                  yerr=[100 * summary[v]["std"] for v in names], capsize=4, color=[f"C{i}" for i in range(len(names))])
    ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
    ax.set_ylabel("greedy accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Held-out accuracy of the teacher")
    fig.tight_layout()
    return fig


def _save(fig: Figure, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")


def write_curves(curves: pl.DataFrame) -> None:
    _save(training_curves(curves), paths.M2_CURVES_FIGURE)


def write_accuracy(summary: dict) -> None:
    _save(accuracy_bars(summary), paths.M2_ACCURACY_FIGURE)
