"""Figures for the selection stage and the report (matplotlib, no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

METHOD_LABELS = {"greedy": "Greedy", "sc": "SC", "m1_max": "M1-MAX", "m1_sum": "M1-SUM", "m1_avg": "M1-AVG"}


def with_pair(df: pl.DataFrame) -> pl.DataFrame:
    """Adds `pair`, the "teacher → student" label every figure and report table uses."""
    return df.with_columns(pair=pl.format("{} → {}", "teacher", "student"))


def accuracy_by_method(acc: pl.DataFrame):
    """Bars of accuracy per selection method, one colour per (teacher → student) pair."""
    acc = with_pair(acc)
    pairs = acc["pair"].unique(maintain_order=True).to_list()
    methods = [m for m in METHOD_LABELS if m in set(acc["method"])]
    fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(methods), 3.2))
    width = 0.8 / len(pairs)
    for k, pair in enumerate(pairs):
        rows = dict(acc.filter(pl.col("pair") == pair).select("method", "accuracy").iter_rows())
        bars = ax.bar([i + k * width for i in range(len(methods))], [100 * rows.get(m, 0) for m in methods],
                      width, label=pair)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks([i + width * (len(pairs) - 1) / 2 for i in range(len(methods))],
                  [METHOD_LABELS[m] for m in methods])
    ax.set_ylabel("TA accuracy (%)")
    ax.set_ylim(0, 105)
    if len(pairs) > 1:
        ax.legend(title="teacher → student", fontsize=8)
    ax.set_title("Answer selection")
    fig.tight_layout()
    return fig


def accuracy_vs_n(curve: pl.DataFrame):
    """Accuracy against the number of TRs per TP: mean ± std over random subsets."""
    curve = with_pair(curve).sort("n")
    several = curve["pair"].n_unique() > 1
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for (pair, method), part in curve.group_by(["pair", "method"], maintain_order=True):
        label = METHOD_LABELS[method] + (f" ({pair})" if several else "")
        ax.errorbar(part["n"], 100 * part["mean"], yerr=100 * part["std"], marker="o", capsize=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("TRs per TP")
    ax.set_ylabel("TA accuracy (%)")
    ax.legend(fontsize=8)
    ax.set_title("Accuracy vs number of rationales")
    fig.tight_layout()
    return fig


def training_loss(losses: list[float], role: str):
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.plot(losses, lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"Toy {role} training")
    fig.tight_layout()
    return fig
