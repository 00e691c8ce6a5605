"""`MathTask` against the task contract in lbt/tasks/base.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lbt.tasks.base import Demo, Task
from lbt.tasks.math import MathParams, MathPromptConfig, MathTask


def test_params_defaults_and_grading_section() -> None:
    params = MathParams.model_validate({"grading": {"workers": 1, "timeout_s": 2.5}})
    assert params.raw_dir == "../shared/datasets" and params.grouping == "equivalence"
    assert params.grading.workers == 1 and params.grading.timeout_s == 2.5
    assert params.prompt == MathPromptConfig()
    with pytest.raises(ValidationError):
        MathParams(grouping="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        MathParams.model_validate({"grading": {"workers": 0}})


def test_grading_scores_and_argument_order() -> None:
    with MathTask(MathParams.model_validate({"grading": {"workers": 1}})) as task:
        assert isinstance(task, Task) and task.name == "math"
        # answers first, golds second; math-verify still reads gold first (not symmetric)
        assert task.grade_many(["0.5", "2", None, "x - 3z = 0"], ["\\frac{1}{2}", "1", "1", "0"]) == [
            1.0, 0.0, 0.0, 1.0,
        ]
        assert task.grade_many(["0"], ["x - 3z = 0"]) == [0.0]
        assert task.grader.stats()["workers"] == 1
        with pytest.raises(ValueError, match="as many answers as golds"):
            task.grade_many(["1"], [])


def test_grouping_follows_the_task_setting() -> None:
    answers = ["\\frac12", "0.5", None]
    task, exact = MathTask(), MathTask(MathParams(grouping="exact"))
    try:
        assert task.grouping_modes == ("equivalence", "exact", "normalized")
        assert exact.grouping_modes == ("exact", "equivalence", "normalized")
        assert MathTask(MathParams(grouping="normalized")).grouping_modes == ("normalized", "equivalence", "exact")
        labels = task.answer_groups(answers)
        assert labels[0] == labels[1] and labels[2] is None
        assert exact.answer_groups(answers) == ["\\frac12", "0.5", None]
        assert task.answer_groups(answers, mode="exact") == ["\\frac12", "0.5", None]
    finally:
        task.close()
        exact.close()


def _children() -> set[int]:
    """Process ids of this process's children (Linux)."""
    pids: set[int] = set()
    for task_dir in Path("/proc/self/task").iterdir():
        pids |= {int(p) for p in (task_dir / "children").read_text().split()}
    return pids


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to list child processes")
def test_the_grader_is_created_lazily_and_closed() -> None:
    before = _children()
    task = MathTask()
    spec = task.render([Demo("What is $1+1$?", "It is $\\boxed{2}$.")], "What is $2+2$?", chat=False)
    assert task.extract_answer("so [[Final Answer]]:\n$4$") == "4" and "prompt" in spec
    assert task.answer_groups(["4", "4.0"], mode="exact") == ["4", "4.0"]
    assert _children() == before  # nothing started yet
    grader = task.grader
    assert grader is task.grader and grader.is_equivalent("x+1", "1+x")
    assert set(grader.pool.pids()) <= _children() - before and grader.pool.pids()
    task.close()
    assert not grader.pool.pids() and _children() == before


def test_a_bold_final_answer_is_read_and_graded() -> None:
    with MathTask(MathParams.model_validate({"grading": {"workers": 1}})) as task:
        completions = ["So the sum is 5.\n\n[[Final Answer]]: **$5$**", "[[Final Answer]]:\n**5**\n\nDone."]
        answers = [task.extract_answer(c) for c in completions]
        assert answers == ["5", "5"]
        assert task.grade_many(answers, ["5", "5"]) == [1.0, 1.0]
