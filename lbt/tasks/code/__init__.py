"""The `code` task: groups of similar programming problems, answers are Python programs.

Modules: `config` (the params schemas), `testcases` (test snippets and the visible/hidden
split), `data` (checksummed raw files, records as rows), `groups` (LeetCodeDataset tags,
HumanEval blocks or your own JSONL), `prompts`, `extract` (the last ```python block; code
normalised for grouping) and `grade` (pass rates, V- and S-scores in the sandbox, lbt/sandbox).

As in the paper (App. A.3): every problem of a group is a TP and its exam is the other
problems of the group; the task's score is the visible-test pass rate, the V-score (all
visible tests pass) is what the LbT score averages, the S-score is the hidden-test pass rate;
M1-MAX picks the teaching answer (there is no answer vote worth the name: answers are grouped
only when their normalised code is identical).
"""

from __future__ import annotations

from functools import cached_property
from typing import Sequence

import polars as pl

from lbt.tasks.base import Demo, GroupingMode, PromptSpec, Split, Task, group_exams
from lbt.tasks.code import groups, prompts
from lbt.tasks.code.config import CodeParams, CodePromptConfig, CodeSandboxParams
from lbt.tasks.code.extract import extract_code, normalize_code
from lbt.tasks.code.grade import CodeGold, CodeGrader


class CodeTask(Task):
    """Python code synthesis graded by tests in the sandbox."""

    name = "code"
    grouping_modes: tuple[GroupingMode, ...] = ("normalized", "exact")
    descriptive_columns = ("difficulty",)

    def __init__(self, config: CodeParams | None = None) -> None:
        self.config = config or CodeParams()

    @cached_property
    def grader(self) -> CodeGrader:
        """The grader, created (with its sandbox pool) on first use."""
        return CodeGrader(self.config.sandbox)

    def load_problems(self) -> pl.DataFrame:
        return groups.load_problems(self.config)

    def summary(self) -> str:
        return (f"Code: groups from `{self.config.source}`; each TP's exam is the other problems of its group; "
                f"{self.config.visible_tests} visible tests per problem where the data has no examples; "
                "answers run in the sandbox (score: visible-test pass rate).")

    def exam_sets(self, problems: pl.DataFrame, split: Split, max_eps: int | None = None) -> pl.DataFrame:
        return group_exams(problems, split, max_eps)

    def golds(self, problems: pl.DataFrame) -> list[CodeGold]:
        """The visible tests of each row."""
        return [CodeGold.from_row(row, "visible_tests") for row in problems.iter_rows(named=True)]

    def hidden_golds(self, problems: pl.DataFrame) -> list[CodeGold]:
        """The hidden tests of each row (for S-scores)."""
        return [CodeGold.from_row(row, "hidden_tests") for row in problems.iter_rows(named=True)]

    def render(self, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
        return prompts.render(self.config.prompt, demos, question, chat)

    def extract_answer(self, completion: str) -> str | None:
        return extract_code(completion)

    def grade_many(self, answers: Sequence[str | None], golds: Sequence[CodeGold]) -> list[float]:
        """The fraction of each gold's tests the answer passes (None scores 0)."""
        return self.grader.pass_rates(answers, golds)

    def v_scores(self, answers: Sequence[str | None], golds: Sequence[CodeGold]) -> list[float]:
        """1.0 where the answer passes all of its gold's tests (visible golds: the V-score)."""
        return self.grader.all_passed(answers, golds)

    def s_scores(self, answers: Sequence[str | None], problems: pl.DataFrame) -> list[float]:
        """The hidden-test pass rate of each answer against its row of `problems`."""
        return self.grader.pass_rates(answers, self.hidden_golds(problems))

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


__all__ = ["CodeGold", "CodeGrader", "CodeParams", "CodePromptConfig", "CodeSandboxParams", "CodeTask",
           "extract_code", "normalize_code"]
