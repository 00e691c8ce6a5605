"""LbT scores: a TR's score for a student is the mean grade of that student's exam answers.

Each score is also kept exactly, as integers: `grade_sum / (grade_den * n_exams)`, where
`grade_den` is common to every exam answer of a TP (1 for 0/1 grades, so `grade_sum` counts the
correct answers). Selection ranks on these, so scores equal as fractions tie exactly; a
student group's combined score is its members' summed `grade_sum` over their summed `n_exams`."""

from __future__ import annotations

import math
from fractions import Fraction

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.tables import write_table
from lbt.teaching.names import pair_names

# Grades are fractions k/m with m at most this (a pass rate over at most that many tests).
MAX_GRADE_DENOMINATOR = 1000


def lbt_scores(exams: pl.DataFrame) -> pl.DataFrame:
    """One row per (TR, student): `score` (mean exam grade in [0, 1]), `n_exams`, the exact
    `grade_sum` and `grade_den`, and `exam_tokens` (tokens of its exam answers)."""
    return (
        exact_grades(exams)
        .group_by("tp_id", "teacher", "sample", "student")
        .agg(score=pl.col("grade").mean(), n_exams=pl.len().cast(pl.Int64), grade_sum=pl.col("grade_num").sum(),
             grade_den=pl.col("grade_den").first(), exam_tokens=pl.col("n_tokens").sum())
        .sort("tp_id", "teacher", "sample", "student")
    )


def exact_grades(exams: pl.DataFrame) -> pl.DataFrame:
    """Adds `grade_num` / `grade_den`: each grade as a fraction over a denominator common to its TP."""
    fractions = {g: Fraction(g).limit_denominator(MAX_GRADE_DENOMINATOR) for g in exams["grade"].unique()}
    parts = exams.with_columns(
        _num=pl.col("grade").replace_strict({g: f.numerator for g, f in fractions.items()}, return_dtype=pl.Int64),
        _den=pl.col("grade").replace_strict({g: f.denominator for g, f in fractions.items()}, return_dtype=pl.Int64))
    common = {tp: math.lcm(*dens) for tp, dens in parts.group_by("tp_id").agg(pl.col("_den").unique()).iter_rows()}
    return (
        parts.with_columns(grade_den=pl.col("tp_id").replace_strict(common, return_dtype=pl.Int64))
        .with_columns(grade_num=pl.col("_num") * (pl.col("grade_den") // pl.col("_den")))
        .drop("_num", "_den")
    )


def with_student_groups(scores: pl.DataFrame, groups: dict[str, list[str]]) -> pl.DataFrame:
    """Adds one row per (TR, group) under the group's name: its members' exam answers taken
    together (summed `grade_sum` over summed `n_exams`, exactly; the mean over all of them)."""
    combined = [
        scores.filter(pl.col("student").is_in(members))
        .group_by("tp_id", "teacher", "sample", maintain_order=True)
        .agg(student=pl.lit(name), n_exams=pl.col("n_exams").sum(), grade_sum=pl.col("grade_sum").sum(),
             grade_den=pl.col("grade_den").first(), exam_tokens=pl.col("exam_tokens").sum())
        .with_columns(score=pl.col("grade_sum") / (pl.col("grade_den") * pl.col("n_exams")))
        for name, members in groups.items()
    ]
    return pl.concat([scores, *(c.select(scores.columns) for c in combined)])


def score_summary(scores: pl.DataFrame) -> pl.DataFrame:
    """Per (teacher, student): TRs scored, their mean LbT score, and exam answers per TR."""
    return scores.group_by("teacher", "student", maintain_order=True).agg(
        TRs=pl.len(), mean_score=pl.col("score").mean(), exams_per_TR=pl.col("n_exams").mean())


def scores(params: Params, split: str = "eval") -> pl.DataFrame:
    """The scores stage: LbT scores of every (teacher, student) pair's exams, in one table (self-debugged
    teachers and students among them)."""
    tables = [pl.read_parquet(paths.exams(t, s, split)) for t, s in pair_names(params)]
    table = lbt_scores(pl.concat(tables, how="diagonal_relaxed"))  # revised exams carry `revised`
    write_table(table, paths.lbt_scores(split))
    return table
