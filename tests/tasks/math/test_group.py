"""Grouping answers into classes of equivalent answers."""

from __future__ import annotations

import polars as pl
import pytest

from lbt.tasks.math import MathGrader, group_answers

from .conftest import DATA_DIR, NO_DATA
from .test_grade import CROSS_PROBLEM_EQUALS, same_value

needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=NO_DATA)


def test_half_forms_share_one_class_and_exact_mode_keeps_them_apart(grader: MathGrader) -> None:
    answers = ["\\frac12", "0.5", "\\dfrac{1}{2}", None, "1/2", "2"]
    labels = group_answers(grader, answers, "equivalence")
    assert len({labels[i] for i in (0, 1, 2, 4)}) == 1
    assert labels[3] is None and labels[5] not in (labels[0], None)
    exact = group_answers(grader, answers, "exact")
    assert exact == ["\\frac12", "0.5", "\\dfrac{1}{2}", None, "1/2", "2"]


def test_normalized_mode_groups_by_the_classic_normal_form(grader: MathGrader) -> None:
    """The paper's grouping: equal after the classic MATH normalisation (units, `$`, spaces,
    `\\dfrac`, `x =` dropped), nothing more (no values, no math-verify)."""
    answers = ["5 \\text{ cm}", "$5$", "x = 5", " 5 ", "5.0", "\\dfrac{1}{2}", "\\frac12", "0.5", "x+1", "1+x", None, " "]
    labels = group_answers(grader, answers, "normalized")
    assert labels[:4] == ["5"] * 4 and labels[4] == "5.0"
    assert labels[5] == labels[6] == labels[7] == "\\frac{1}{2}"
    assert labels[8] != labels[9] and labels[10:] == [None, None]
    equivalence = group_answers(grader, answers, "equivalence")
    assert equivalence[4] == equivalence[0] and equivalence[8] == equivalence[9]  # what only equivalence merges


def test_grouping_labels_do_not_depend_on_input_order(grader: MathGrader) -> None:
    answers = ["0.5", "\\frac12", "\\frac12", "x+1", "1+x", "(1,2)", "\\{1,2\\}", "3", None]
    labels = dict(zip(answers, group_answers(grader, answers)))
    reversed_labels = dict(zip(answers[::-1], group_answers(grader, answers[::-1])))
    assert labels == reversed_labels
    assert labels["0.5"] == labels["\\frac12"] == "\\frac12"  # the most frequent form labels its group
    assert labels["x+1"] == labels["1+x"]


def test_grouping_needs_math_verify_both_ways(grader: MathGrader) -> None:
    # verify(gold="0", pred="x - 3z = 0") is True (math-verify reads the equation's right side),
    # but not the other way round: they must not share a class.
    labels = group_answers(grader, ["0", "x - 3z = 0"])
    assert labels[0] != labels[1]


def test_grouping_scopes_are_independent(grader: MathGrader) -> None:
    labels = group_answers(grader, ["0.5", "\\frac12", "0.5", "\\frac12"], scopes=["a", "a", "b", "b"])
    assert labels[0] == labels[1] and labels[2] == labels[3]
    with pytest.raises(ValueError, match="one scope per answer"):
        group_answers(grader, ["1"], scopes=[])
    with pytest.raises(ValueError, match="grouping mode"):
        group_answers(grader, ["1"], "fuzzy")  # type: ignore[arg-type]


@needs_data
def test_grouping_real_golds_merges_only_equal_values(problems: pl.DataFrame, grader: MathGrader) -> None:
    tp_golds = problems.filter(pl.col("role") == "tp")["answer"].to_list()
    rewritten = [g.replace("\\frac", "\\dfrac") for g in tp_golds] + [f" {g} " for g in tp_golds]
    labels = group_answers(grader, tp_golds + rewritten)
    n = len(tp_golds)
    for i, gold in enumerate(tp_golds):
        assert labels[i] == labels[n + i] == labels[2 * n + i], gold
    for i, first in enumerate(tp_golds):
        for j in range(i + 1, n):
            if labels[i] == labels[j]:
                assert same_value(first, tp_golds[j]) or (first, tp_golds[j]) in CROSS_PROBLEM_EQUALS
