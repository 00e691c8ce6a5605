"""The code section of the report (code tasks only): the paper's code table, the mean S-score of
the TA each way of choosing picks, per teacher → student pair, and per TP."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.methods.m1.config import LABELS, MEASURES
from lbt.methods.m1.plots import with_pair
from lbt.tables import read_json


def available() -> bool:
    """Whether this run has the select_code stage's results (a code task)."""
    return paths.CODE_METRICS.exists()


def s_score_table() -> pl.DataFrame:
    """Rows: teacher → student pairs (self-debugged ones among them); columns: mean S-score (%) per measure."""
    metrics = read_json(paths.CODE_METRICS)
    rows = []
    for teacher, by_student in metrics["s_score"].items():
        for student, values in by_student.items():
            rows.append({"teacher": teacher, "student": student, "TPs": metrics["n_tp"][teacher][student],
                         "TPs with a V=1 TA": metrics["n_tp_v1"][teacher][student],
                         **{LABELS[m]: None if values[m] is None else 100 * values[m] for m in MEASURES}})
    return pl.DataFrame(rows)


def per_tp_table() -> pl.DataFrame:
    """The S-score (%) of each measure for every TP and pair, as the paper lists its problems."""
    table = with_pair(pl.read_parquet(paths.CODE_SELECTIONS))
    return table.select("pair", "tp_id", *(pl.col(m).mul(100).alias(LABELS[m]) for m in MEASURES))
