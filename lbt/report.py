"""Tables and figures for the report notebook, read from the pipeline's outputs."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.plots import METHOD_LABELS


def _metrics(name: str) -> dict:
    path = paths.METRICS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def setup_summary(params: Params) -> str:
    r = _metrics("rationales")
    students = ", ".join(f"`{s.name}` ({s.backend})" for s in params.students)
    lines = [
        f"**Task** `{params.task}` · **teacher** `{params.teacher.name}` ({params.teacher.backend}) · "
        f"**students** {students}",
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


def selection_table() -> pl.DataFrame:
    """Rows: methods; columns: students; cells: TA accuracy in %."""
    acc = _metrics("selection").get("accuracy", {})
    methods = [m for m in METHOD_LABELS if any(m in v for v in acc.values())]
    return pl.DataFrame(
        {"method": [METHOD_LABELS[m] for m in methods]}
        | {s: [round(100 * acc[s].get(m, float("nan")), 1) for m in methods] for s in acc}
    )


def resampling_table() -> pl.DataFrame:
    curve = pl.read_parquet(paths.RESAMPLING)
    shown = curve.with_columns(
        cell=pl.format("{} ± {}", (100 * pl.col("mean")).round(1), (100 * pl.col("std")).round(1)),
        method=pl.col("method").replace(METHOD_LABELS),
    )
    return shown.pivot(on="n", index=["student", "method"], values="cell", sort_columns=False)


def score_separation(params: Params) -> tuple[plt.Figure, pl.DataFrame]:
    """Histogram of LbT scores for TRs with a correct vs a wrong TA, and the mean of each."""
    tr = pl.read_parquet(paths.RATIONALES).join(pl.read_parquet(paths.LBT_SCORES), on=["tp_id", "teacher", "sample"])
    table = (
        tr.group_by("student", "correct").agg(mean_score=pl.col("score").mean(), n_rationales=pl.len())
        .sort("student", "correct")
    )
    students = tr["student"].unique().sort().to_list()
    fig, axes = plt.subplots(1, len(students), figsize=(4.5 * len(students), 3), squeeze=False)
    for ax, student in zip(axes[0], students):
        part = tr.filter(pl.col("student") == student)
        for correct, color in ((True, "tab:green"), (False, "tab:red")):
            values = part.filter(pl.col("correct") == correct)["score"].to_list()
            ax.hist(values, bins=11, range=(0, 1), alpha=0.6, color=color,
                    label=f"TA {'correct' if correct else 'wrong'} ({len(values)})")
        ax.set_xlabel(f"LbT score ({student})")
        ax.set_ylabel("TRs")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, table


def example_rationales(params: Params, n_problems: int = 3) -> pl.DataFrame:
    """Distinct TRs of a few TPs where M1-MAX and SC disagree (else any TPs), best score first."""
    sel = pl.read_parquet(paths.SELECTIONS)
    student = params.students[0].name
    wide = sel.filter(pl.col("student") == student).pivot(on="method", index="tp_id", values="correct")
    disagree = wide.filter(pl.col("m1_max") != pl.col("sc")) if {"m1_max", "sc"} <= set(wide.columns) else wide
    tps = (disagree if disagree.height else wide)["tp_id"].head(n_problems).to_list()
    tr = pl.read_parquet(paths.RATIONALES).join(
        pl.read_parquet(paths.LBT_SCORES).filter(pl.col("student") == student), on=["tp_id", "teacher", "sample"])
    return (
        tr.filter(pl.col("tp_id").is_in(tps))
        .group_by("tp_id", "text", "answer", "correct")
        .agg(lbt_score=pl.col("score").first(), copies=pl.len())
        .sort(["tp_id", "lbt_score"], descending=[False, True])
    )


def generation_table() -> pl.DataFrame:
    rows = []
    teacher = _metrics("rationales").get("generations")
    if teacher:
        rows.append({"stage": "rationales", "model": "teacher", **teacher})
    for student, counts in _metrics("exams").get("generations", {}).items():
        rows.append({"stage": "exams", "model": student, **counts})
    return pl.DataFrame(rows)
