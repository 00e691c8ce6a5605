"""The prepare stage: the task's problems table, written once for every later stage."""

from __future__ import annotations

import logging

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.tables import write_table
from lbt.tasks.make import make_task

log = logging.getLogger(__name__)


def prepare(params: Params) -> pl.DataFrame:
    problems = make_task(params).load_problems()
    write_table(problems, paths.PROBLEMS)
    log.info("problems: %s", dict(problems.group_by("role").len().sort("role").iter_rows()))
    return problems
