"""Writing and reading the pipeline's tables (Parquet) and metrics (JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl


def write_table(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in `path`, or {} when the file does not exist (yet)."""
    return json.loads(path.read_text()) if path.exists() else {}


def mean(series: pl.Series) -> float:
    """The mean of a boolean or numeric column, rounded for metrics files (0 when empty)."""
    return round(float(series.cast(pl.Float64).mean() or 0.0), 4)
