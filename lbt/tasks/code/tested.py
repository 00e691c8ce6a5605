"""What every task whose answers are programs graded by tests shares (the `code` task and the
toy-code world): the problems table's test columns as golds, grading in the sandbox, V- and
S-scores, grouping by normalised code, and the feedback one round of self-debugging reads.

The task's grade of an answer (what exam grades and so LbT scores are made of) is its V-score
by default, 1 when every visible test passes, as in the paper; `pass_rate` grades by the
fraction of visible tests passed instead. `correct` (grade 1) is the V-score either way.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal, Sequence

import polars as pl

from lbt.sandbox import RunResult
from lbt.tasks.base import GroupingMode, Split, Task, group_exams
from lbt.tasks.code.config import CodeSandboxParams
from lbt.tasks.code.extract import normalize_code
from lbt.tasks.code.grade import CodeGold, CodeGrader

GradeMode = Literal["v_score", "pass_rate"]


class TestedCodeTask(Task):
    """A task whose problems rows carry `preamble`, `entry_point`, `visible_tests`, `hidden_tests`."""

    grouping_modes: tuple[GroupingMode, ...] = ("normalized", "exact")

    def __init__(self, sandbox: CodeSandboxParams, grade: GradeMode = "v_score") -> None:
        self.sandbox, self.grade_mode = sandbox, grade

    @cached_property
    def grader(self) -> CodeGrader:
        """The grader, created (with its sandbox pool) on first use."""
        return CodeGrader(self.sandbox)

    def exam_sets(self, problems: pl.DataFrame, split: Split, max_eps: int | None = None) -> pl.DataFrame:
        return group_exams(problems, split, max_eps)

    def golds(self, problems: pl.DataFrame) -> list[CodeGold]:
        """The visible tests of each row."""
        return [CodeGold.from_row(row, "visible_tests") for row in problems.iter_rows(named=True)]

    def hidden_golds(self, problems: pl.DataFrame) -> list[CodeGold]:
        """The hidden tests of each row (for S-scores)."""
        return [CodeGold.from_row(row, "hidden_tests") for row in problems.iter_rows(named=True)]

    def grade_many(self, answers: Sequence[str | None], golds: Sequence[CodeGold]) -> list[float]:
        """The V-score (or the pass rate, per `grade`) of each answer on its gold's tests; None scores 0."""
        if self.grade_mode == "pass_rate":
            return self.grader.pass_rates(answers, golds)
        return self.grader.all_passed(answers, golds)

    def v_scores(self, answers: Sequence[str | None], golds: Sequence[CodeGold]) -> list[float]:
        """1.0 where the answer passes all of its gold's tests (visible golds: the V-score)."""
        return self.grader.all_passed(answers, golds)

    def s_scores(self, answers: Sequence[str | None], problems: pl.DataFrame) -> list[float]:
        """The hidden-test pass rate of each answer against its row of `problems`."""
        return self.grader.pass_rates(answers, self.hidden_golds(problems))

    def feedback(self, answers: Sequence[str | None], golds: Sequence[CodeGold]) -> list[str | None]:
        """What a programmer sees when an answer fails its visible tests (None where it passes)."""
        results = self.grader.run_many(answers, golds)
        return [None if r is not None and r.passed else self.describe_failure(r) for r in results]

    def describe_failure(self, result: RunResult | None) -> str:
        """One failing run in words (None: the completion held no code)."""
        if result is None:
            return "No ```python code block was found in the solution."
        lines = [f"The code failed: {result.reason}" + (f" ({result.detail})" if result.detail else "") + "."]
        if result.failing_test:
            lines.append(f"Failing test: {result.failing_test}")
        return "\n".join(lines)

    def answer_groups(self, answers: Sequence[str | None], scopes: Sequence[object] | None = None,
                      mode: GroupingMode | None = None) -> list[str | None]:
        """Identical normalised code (no comments, docstrings or layout) shares a label;
        `exact` compares stripped text."""
        if (mode or self.grouping_modes[0]) == "exact":
            return super().answer_groups(answers, scopes, mode)
        return [None if a is None or not a.strip() else normalize_code(a) for a in answers]

    def close(self) -> None:
        if "grader" in self.__dict__:  # built (and so running) only once used
            self.__dict__.pop("grader").close()
