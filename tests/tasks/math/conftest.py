"""Fixtures of the math task tests: one grader for the session, the real problems table."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from lbt.tasks.math import MathGrader
from lbt.tasks.math.data import load_problems

DATA_DIR = (Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets").resolve()
NO_DATA = f"real datasets not found at {DATA_DIR} (see docs/tasks.md for where to get them)"


@pytest.fixture(scope="session")
def grader():
    with MathGrader(workers=2, timeout_s=5.0) as grader:
        yield grader


@pytest.fixture(scope="session")
def problems() -> pl.DataFrame:
    if not DATA_DIR.is_dir():
        pytest.skip(NO_DATA)
    return load_problems(DATA_DIR)
