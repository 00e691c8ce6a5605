"""Tables and figures for the report notebook, read from the pipeline's outputs."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.plots import METHOD_LABELS, with_pair
from lbt.stages import read_rationales


def _metrics(name: str) -> dict:
    path = paths.METRICS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _models(models: dict) -> str:
    return ", ".join(f"`{name}` ({m.backend})" for name, m in models.items())


def setup_summary(params: Params) -> str:
    r = _metrics(f"rationales_{next(iter(params.teachers))}")
    lines = [
        f"**Task** `{params.task}` · **teachers** {_models(params.teachers)} · "
        f"**students** {_models(params.students)}",
        f"**{r.get('n_tp', '?')} TPs**, {params.rationales.num_rationales} TRs each "
        f"(temperature {params.rationales.temperature}), exams of {params.exam.repeats} answer(s) per EP.",
    ]
    if params.task == "toy":
        w = params.toy.world
        lines.append(
            f"Toy world: {w.n_verbs} verbs in chains of {w.n_steps}; the teacher is wrong on "
            f"{w.bad_verb_fraction:.0%} of verbs {w.teacher_wrong_prob:.0%} of the time; the student "
            f"follows its example {w.student_follow_prob:.0%} of the time."
        )
    return "\n\n".join(lines)


def _accuracy_frame(nested: dict) -> pl.DataFrame:
    """Rows: methods; columns: one per (teacher → student) pair; cells: accuracy in %."""
    columns = {f"{t} → {s}": by_method for t, by_student in nested.items() for s, by_method in by_student.items()}
    methods = [m for m in METHOD_LABELS if any(m in v for v in columns.values())]
    return pl.DataFrame(
        {"method": [METHOD_LABELS[m] for m in methods]}
        | {pair: [round(100 * v[m], 1) if m in v else None for m in methods] for pair, v in columns.items()}
    )


def selection_table() -> pl.DataFrame:
    return _accuracy_frame(_metrics("selection").get("accuracy", {}))


def grouping_table() -> pl.DataFrame | None:
    """The same table under each answer grouping (math: equivalence vs exact match), or None."""
    by_grouping = _metrics("selection").get("accuracy_by_grouping")
    if not by_grouping:
        return None
    frames = [_accuracy_frame(nested).with_columns(grouping=pl.lit(mode)) for mode, nested in by_grouping.items()]
    return pl.concat(frames, how="diagonal").select("grouping", pl.exclude("grouping"))


def breakdown_tables() -> dict[str, pl.DataFrame]:
    """Per descriptive column: accuracy (%) per method (columns) for each value (rows)."""
    table = pl.read_parquet(paths.BREAKDOWN)
    if table.is_empty():
        return {}
    out = {}
    for (column,), part in table.group_by(["column"], maintain_order=True):
        shown = with_pair(part).with_columns(
            accuracy=(100 * pl.col("accuracy")).round(1), method=pl.col("method").replace(METHOD_LABELS))
        out[column] = shown.pivot(on="method", index=["pair", "value", "n"], values="accuracy").sort("pair", "value")
    return out


def resampling_table() -> pl.DataFrame:
    curve = pl.read_parquet(paths.RESAMPLING)
    shown = curve.with_columns(
        cell=pl.format("{} ± {}", (100 * pl.col("mean")).round(1), (100 * pl.col("std")).round(1)),
        method=pl.col("method").replace(METHOD_LABELS),
    )
    return shown.pivot(on="n", index=["teacher", "student", "method"], values="cell", sort_columns=False)


def score_separation(params: Params) -> tuple[plt.Figure, pl.DataFrame]:
    """Histogram of LbT scores for TRs with a correct vs a wrong TA, and the mean of each."""
    tr = with_pair(_scored_rationales(params))
    table = (
        tr.group_by("pair", "correct").agg(mean_score=pl.col("score").mean(), n_rationales=pl.len())
        .sort("pair", "correct")
    )
    pairs = tr["pair"].unique().sort().to_list()
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.5 * len(pairs), 3), squeeze=False)
    for ax, pair in zip(axes[0], pairs):
        part = tr.filter(pl.col("pair") == pair)
        for correct, color in ((True, "tab:green"), (False, "tab:red")):
            values = part.filter(pl.col("correct") == correct)["score"].to_list()
            ax.hist(values, bins=11, range=(0, 1), alpha=0.6, color=color,
                    label=f"TA {'correct' if correct else 'wrong'} ({len(values)})")
        ax.set_xlabel(f"LbT score ({pair})")
        ax.set_ylabel("TRs")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, table


def _scored_rationales(params: Params) -> pl.DataFrame:
    return read_rationales(params).join(pl.read_parquet(paths.LBT_SCORES), on=["tp_id", "teacher", "sample"])


def example_rationales(params: Params, n_problems: int = 3) -> pl.DataFrame:
    """Distinct TRs of a few TPs where M1-MAX and SC disagree (else any TPs), best score first,
    for the first (teacher, student) pair."""
    teacher, student = next(iter(params.teachers)), next(iter(params.students))
    sel = pl.read_parquet(paths.SELECTIONS).filter((pl.col("teacher") == teacher) & (pl.col("student") == student))
    wide = sel.pivot(on="method", index="tp_id", values="correct")
    disagree = wide.filter(pl.col("m1_max") != pl.col("sc")) if {"m1_max", "sc"} <= set(wide.columns) else wide
    tps = (disagree if disagree.height else wide)["tp_id"].head(n_problems).to_list()
    tr = _scored_rationales(params).filter((pl.col("teacher") == teacher) & (pl.col("student") == student))
    return (
        tr.filter(pl.col("tp_id").is_in(tps))
        .group_by("tp_id", "text", "answer", "correct")
        .agg(lbt_score=pl.col("score").first(), copies=pl.len())
        .sort(["tp_id", "lbt_score"], descending=[False, True])
    )


def generation_table(params: Params) -> pl.DataFrame:
    rows = []
    for teacher in params.teachers:
        counts = _metrics(f"rationales_{teacher}").get("generations", {})
        rows.append({"stage": "rationales", "teacher": teacher, "student": None, **counts})
        for student in params.students:
            counts = _metrics(f"exams_{teacher}__{student}").get("generations", {})
            rows.append({"stage": "exams", "teacher": teacher, "student": student, **counts})
    return pl.DataFrame(rows)
