"""The M1 report tables, on outputs written the way the select stage writes them."""

from __future__ import annotations

import polars as pl
import pytest

from lbt import paths
from lbt.config import parse_params
from lbt.report import m1
from lbt.tables import write_json, write_table


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    """Two TPs: on `a` SC (answer 7, 2 votes) and M1-MAX (answer 3, score 1) disagree; on `b` they agree."""
    monkeypatch.chdir(tmp_path)
    write_json(paths.SELECTION_METRICS, {
        "accuracy": {"t": {"s": {"greedy": 0.5, "sc": 0.5, "m1_max": 1.0}}},
        "accuracy_by_grouping": {"equivalence": {"t": {"s": {"sc": 0.5}}}, "exact": {"t": {"s": {"sc": 0.25}}}},
    })
    rationales = pl.DataFrame({
        "tp_id": ["a", "a", "a", "b", "b"], "teacher": ["t"] * 5, "sample": [0, 1, 2, 0, 1],
        "text": ["r7", "r7", "r3", "q5", "q5"], "answer": ["7", "7", "3", "5", "5"],
        "correct": [False, False, True, True, True]})
    write_table(rationales, paths.rationales("t"))
    write_table(rationales.select("tp_id", "teacher", "sample", student=pl.lit("s"),
                                  score=pl.Series([0.0, 0.0, 1.0, 0.5, 0.5]), n_exams=pl.lit(3)), paths.lbt_scores())
    write_table(pl.DataFrame({"teacher": ["t"] * 4, "student": ["s"] * 4, "tp_id": ["a", "a", "b", "b"],
                              "method": ["sc", "m1_max", "sc", "m1_max"], "group": ["7", "3", "5", "5"],
                              "correct": [False, True, True, True]}), paths.SELECTIONS)
    return parse_params({"teachers": {"t": {"backend": "hf", "path": "x"}},
                         "students": {"s": {"backend": "hf", "path": "y"}}, "selection": {}},
                        reads=["teachers", "students", "selection"])


def test_selection_table_has_methods_in_order_and_percentages(outputs):
    table = m1.selection_table()
    assert table.columns == ["method", "t → s"]
    assert table.rows() == [("Greedy", 50.0), ("SC", 50.0), ("M1-MAX", 100.0)]


def test_grouping_table_stacks_one_table_per_grouping(outputs):
    table = m1.grouping_table()
    assert table["grouping"].to_list() == ["equivalence", "exact"]
    assert table["t → s"].to_list() == [50.0, 25.0]


def test_example_rationales_come_from_tps_where_m1_and_sc_disagree(outputs):
    examples = m1.example_rationales(outputs, n_problems=3)
    assert set(examples["tp_id"]) == {"a"}
    assert examples.select("text", "lbt_score", "copies").rows() == [("r3", 1.0, 1), ("r7", 0.0, 2)]


def test_score_separation_compares_correct_and_wrong_tas(outputs):
    figure, table = m1.score_separation(outputs)
    assert table.select("correct", "mean_score", "n_rationales").rows() == [(False, 0.0, 2), (True, 2 / 3, 3)]
    assert len(figure.axes) == 1


def test_compute_and_m1_reaches_sc_tables_read_the_metrics(outputs):
    cost = {"teacher_generations": 32, "teacher_tokens": 640, "student_generations": 0, "student_tokens": 0,
            "tokens": 640}
    reached = {"n": 2, "mean": 0.8, "std": 0.05, "tokens": 300.0, "sc_n": 16, "sc_mean": 0.75, "sc_std": 0.0,
               "sc_tokens": 600.0}
    write_json(paths.SELECTION_METRICS, {
        "compute": {"t": {"s": {"m1_max": cost | {"tokens": 900}, "sc": cost}}},
        "m1_reaches_sc": {"t": {"s": {"m1_max": reached, "m1_sum": reached | {"n": None, "mean": None, "std": None,
                                                                              "tokens": None}}}},
    })
    assert m1.compute_table().select("method", "tokens").rows() == [("SC", 640), ("M1-MAX", 900)]
    table = m1.m1_reaches_sc_table()
    assert table.row(0) == ("t → s", "M1-MAX", 2, "80.0 ± 5.0", 300.0, 16, "75.0 ± 0.0", 600.0, 0.5)
    assert table.row(1)[2] is None  # M1-SUM never reaches SC
