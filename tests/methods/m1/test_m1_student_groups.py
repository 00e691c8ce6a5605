"""Several students at once: a group's combined LbT score and the check of its members."""

import polars as pl
import pytest

from lbt.config import ParamsError, parse_params
from lbt.methods.m1.stages import check_student_groups, student_names
from lbt.teaching.scores import lbt_scores, with_student_groups

MODEL = {"backend": "hf", "path": "x"}


def _params(groups):
    raw = {"students": {"a": MODEL, "b": MODEL, "c": MODEL}, "selection": {"student_groups": groups}}
    return parse_params(raw, reads=["students", "selection"])


def test_a_group_scores_the_mean_over_all_its_members_exam_answers():
    # TR 0: a gets 1 of 3 right, b 6 of 9 (a half-credit answer among b's): combined 7/12, not the
    # mean of the two scores (1/2).
    grades = {"a": [1, 0, 0], "b": [1] * 5 + [0.5, 0.5, 0, 0], "c": [1] * 3}
    exams = pl.DataFrame([("p", "t", 0, s, float(g), 10) for s, gs in grades.items() for g in gs],
                         schema=["tp_id", "teacher", "sample", "student", "grade", "n_tokens"], orient="row")
    scores = with_student_groups(lbt_scores(exams), {"a+b": ["a", "b"]})
    row = scores.filter(pl.col("student") == "a+b").row(0, named=True)
    assert row["score"] == pytest.approx(7 / 12)
    assert (row["grade_sum"], row["grade_den"], row["n_exams"], row["exam_tokens"]) == (14, 2, 12, 120)
    assert scores["student"].to_list() == ["a", "b", "c", "a+b"]


def test_groups_are_reported_after_the_students():
    assert student_names(_params({"ab": ["a", "b"]})) == ["a", "b", "c", "ab"]


@pytest.mark.parametrize("groups, message", [
    ({"ab": ["a", "z"]}, "`selection.student_groups.ab`: unknown student 'z'"),
    ({"a": ["b", "c"]}, "`selection.student_groups.a`: named like a student"),
])
def test_group_members_must_be_known_students(groups, message):
    with pytest.raises(ParamsError, match=message):
        check_student_groups(_params(groups))


def test_a_group_needs_two_distinct_students():
    with pytest.raises(ParamsError) as err:
        _params({"ab": ["a", "a"]})
    assert str(err.value) == ("params.yaml: `selection.student_groups`: Value error, group 'ab' needs two or more "
                              "distinct students.")
