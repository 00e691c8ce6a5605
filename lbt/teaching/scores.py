"""LbT scores: a TR's score for a student is the mean grade of that student's exam answers."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.tables import write_table


def lbt_scores(exams: pl.DataFrame) -> pl.DataFrame:
    """One row per (TR, student): `score` (mean exam grade in [0, 1]) and `n_exams`."""
    return (
        exams.group_by("tp_id", "teacher", "sample", "student")
        .agg(score=pl.col("grade").mean(), n_exams=pl.len())
        .sort("tp_id", "teacher", "sample", "student")
    )


def scores(params: Params, split: str = "eval") -> pl.DataFrame:
    """The scores stage: LbT scores of every (teacher, student) pair's exams, in one table."""
    tables = [pl.read_parquet(paths.exams(t, s, split)) for t in params.teachers for s in params.students]
    table = lbt_scores(pl.concat(tables))
    write_table(table, paths.lbt_scores(split))
    return table
