"""M1's inputs: every teacher's TRs and the LbT scores of every student and student group."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.teaching import names
from lbt.teaching.scores import with_student_groups


def read_scores(params: Params) -> pl.DataFrame:
    """LbT scores of every student and every student group."""
    return with_student_groups(pl.read_parquet(paths.lbt_scores()), params.selection.student_groups)


def read_rationales(params: Params) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(paths.rationales(t)) for t in names.teacher_names(params)], how="diagonal_relaxed")


def scored_rationales(params: Params) -> pl.DataFrame:
    """Every TR with its LbT score for each student and student group."""
    return read_rationales(params).join(read_scores(params), on=["tp_id", "teacher", "sample"])
