"""Compute accounting: what each method generates, and where M1 reaches SC's accuracy."""

import polars as pl

from lbt.methods.m1.analysis import cost, m1_reaching_sc, method_costs, resampled_accuracy
from lbt.methods.m1.config import Method


def _cands(texts):
    """One TP of one pair; TR i has text texts[i], 100 + i tokens, 9 exam answers of 5 tokens."""
    n = len(texts)
    return pl.DataFrame({"teacher": ["t"] * n, "student": ["s"] * n, "tp_id": ["p"] * n, "sample": list(range(n)),
                         "text_key": texts, "tr_tokens": [100 + i for i in range(n)], "n_exams": [9] * n,
                         "exam_tokens": [45] * n, "group": ["1"] * n, "correct": [True] * n, "score_num": [9] * n})


def test_identical_trs_share_their_exams():
    costs = cost(_cands(["a", "b", "a", "c"]), ["teacher", "student"])
    assert costs.select("teacher_generations", "teacher_tokens", "student_generations", "student_tokens").row(0) == (
        4, 406, 27, 135)  # 3 distinct TRs sit exams


def test_only_methods_that_use_scores_pay_for_exams():
    costs = method_costs(cost(_cands(["a", "b"]), ["teacher", "student"]), [Method.SC, Method.M1_MAX])
    by_method = {r["method"]: (r["student_generations"], r["tokens"]) for r in costs.iter_rows(named=True)}
    assert by_method == {"sc": (0, 201), "m1_max": (18, 291)}


def test_resampling_reports_the_compute_of_each_size():
    curve = resampled_accuracy(_cands(["a", "b", "a", "c"]), ["teacher", "student", "tp_id"], ["sc", "m1_max"],
                               [4], trials=2, seed=0)
    rows = {r["method"]: r for r in curve.iter_rows(named=True)}
    assert rows["sc"]["tokens"] == 406 and rows["m1_max"]["tokens"] == 406 + 135


def test_m1_reaching_sc_is_the_smallest_n_at_or_above_sc_at_the_largest_n():
    rows = [("sc", 1, 0.5), ("sc", 4, 0.6), ("sc", 16, 0.7), ("m1_max", 1, 0.5), ("m1_max", 4, 0.7),
            ("m1_max", 16, 0.9), ("m1_sum", 1, 0.4), ("m1_sum", 4, 0.5), ("m1_sum", 16, 0.6)]
    curve = pl.DataFrame([("t", "s", m, n, acc, 0.01, 10.0 * n) for m, n, acc in rows], orient="row",
                         schema=["teacher", "student", "method", "n", "mean", "std", "tokens"])
    reached = {r["method"]: r for r in m1_reaching_sc(curve).iter_rows(named=True)}
    assert (reached["m1_max"]["n"], reached["m1_max"]["tokens"], reached["m1_max"]["sc_n"]) == (4, 40.0, 16)
    assert reached["m1_max"]["sc_mean"] == 0.7
    assert reached["m1_sum"]["n"] is None  # never reaches SC's 0.7
