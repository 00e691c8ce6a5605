"""M1's figures (matplotlib's object API: no global backend, safe in any kernel)."""

from __future__ import annotations

from itertools import cycle

import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from lbt import paths
from lbt.methods.m1.config import Method

LINE_STYLES = ("-", "--", ":", "-.")  # one per teacher → student pair


def with_pair(df: pl.DataFrame) -> pl.DataFrame:
    """Adds `pair`, the "teacher → student" label every M1 figure and report table uses."""
    return df.with_columns(pair=pl.format("{} → {}", "teacher", "student"))


def accuracy_by_method(acc: pl.DataFrame) -> Figure:
    """Bars of accuracy per selection method, one colour per (teacher → student) pair."""
    acc = with_pair(acc)
    pairs = acc["pair"].unique(maintain_order=True).to_list()
    methods = [m for m in Method if m in set(acc["method"])]
    fig = Figure(figsize=(1.2 + 1.3 * len(methods), 3.2))
    ax = fig.subplots()
    width = 0.8 / len(pairs)
    for k, pair in enumerate(pairs):
        rows = dict(acc.filter(pl.col("pair") == pair).select("method", "accuracy").iter_rows())
        bars = ax.bar([i + k * width for i in range(len(methods))], [100 * rows.get(m, 0) for m in methods],
                      width, label=pair)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks([i + width * (len(pairs) - 1) / 2 for i in range(len(methods))], [m.label for m in methods])
    ax.set_ylabel("TA accuracy (%)")
    ax.set_ylim(0, 105)
    if len(pairs) > 1:
        ax.legend(title="teacher → student", fontsize=8)
    ax.set_title("Answer selection")
    fig.tight_layout()
    return fig


def accuracy_vs_n(curve: pl.DataFrame) -> Figure:
    """Accuracy against the number of TRs per TP: mean ± std over random subsets."""
    return _curves(curve, "n", "TRs per TP", "Accuracy vs number of rationales", base=2)


def accuracy_vs_compute(curve: pl.DataFrame) -> Figure:
    """Accuracy against generated tokens (teacher, plus the students' exams for M1), one point
    per number of TRs: what each method's accuracy costs."""
    return _curves(curve, "tokens", "generated tokens (teacher + students)", "Accuracy vs compute", base=10)


def _curves(curve: pl.DataFrame, x: str, xlabel: str, title: str, base: int) -> Figure:
    """Mean accuracy ± std of each (pair, method) against `x`, on a log scale: one colour per
    method, one line style per pair, the legend beside the axes (never over the curves)."""
    curve = with_pair(curve).sort(x)
    pairs = curve["pair"].unique().sort().to_list()
    fig = Figure(figsize=(8, 3.6) if len(pairs) > 1 else (6.5, 3.2))
    ax = fig.subplots()
    for pair, style in zip(pairs, cycle(LINE_STYLES)):
        for colour, method in enumerate(Method):
            part = curve.filter((pl.col("pair") == pair) & (pl.col("method") == method))
            if not part.is_empty():
                label = method.label + (f" ({pair})" if len(pairs) > 1 else "")
                ax.errorbar(part[x], 100 * part["mean"], yerr=100 * part["std"], marker="o", capsize=3,
                            label=label, color=f"C{colour}", linestyle=style)
    ax.set_xscale("log", base=base)
    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on a short log range
    ax.set_xlabel(xlabel)
    ax.set_ylabel("TA accuracy (%)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def write_selection_plots(acc: pl.DataFrame, curve: pl.DataFrame) -> None:
    """The selection stage's figures, as PNG files (its DVC plots: images need no script to show)."""
    paths.FIGURES.mkdir(parents=True, exist_ok=True)
    accuracy_by_method(acc).savefig(paths.figure("accuracy_by_method"), dpi=120, bbox_inches="tight")
    for name, draw in (("accuracy_vs_n", accuracy_vs_n), ("accuracy_vs_compute", accuracy_vs_compute)):
        draw(curve).savefig(paths.figure(name), dpi=120, bbox_inches="tight")
