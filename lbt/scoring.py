"""LbT scores: a TR's score for a student is the mean correctness of that student's exam."""

from __future__ import annotations

import polars as pl


def lbt_scores(exams: pl.DataFrame) -> pl.DataFrame:
    return (
        exams.group_by("tp_id", "teacher", "sample", "student")
        .agg(score=pl.col("correct").cast(pl.Float64).mean(), n_exams=pl.len())
        .sort("tp_id", "teacher", "sample", "student")
    )
