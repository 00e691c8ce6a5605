"""The `math` task: MATH500 teaching problems, MATH() functional variants as exams.

Modules: `config` (the params schemas), `data` (the problems table from checksummed raw files),
`prompts` (raw and chat prompts), `extract` (the final answer of a completion), `normalize`
(the classic MATH normalisation), `numbers` (plain numbers by value), `describe` (kinds of
parsed answers, fast negative checks), `verifier` (the math-verify worker process), `grade`
(`MathGrader`: three-layer grading with its own worker pool and memos) and `group` (classes of
equivalent answers for voting).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Sequence

import polars as pl

from lbt.tasks.base import GROUPING_MODES, Demo, GroupingMode, PromptSpec, Task
from lbt.tasks.math import data, prompts
from lbt.tasks.math.config import GradingParams, MathParams, MathPromptConfig, MathStubDemo
from lbt.tasks.math.extract import FINAL_ANSWER_MARKER, extract_answer, last_boxed_content
from lbt.tasks.math.grade import MathGrader, clean_answer, quick_verdict
from lbt.tasks.math.group import group_answers
from lbt.tasks.math.normalize import normalize_answer


class MathTask(Task):
    """MATH500 TPs with MATH() variants as EPs; answers graded with math-verify."""

    name = "math"
    descriptive_columns = ("level", "subject")

    def __init__(self, config: MathParams | None = None) -> None:
        self.config = config or MathParams()

    @cached_property
    def grader(self) -> MathGrader:
        """The grader, created (with its worker pool) on first use."""
        return MathGrader(self.config.grading)

    def summary(self) -> str:
        return (f"MATH: MATH500 TPs with MATH() functional variants as EPs (from `{self.config.raw_dir}`); "
                f"answers grouped by `{self.config.grouping}` for voting.")

    def load_problems(self) -> pl.DataFrame:
        problems = data.load_problems(Path(self.config.raw_dir), self.config.pool)
        if self.config.levels is None and self.config.max_tps is None:
            return problems
        return data.slice_tps(problems, self.config.levels, self.config.max_tps)

    def held_out_problems(self, problems: pl.DataFrame, which: str) -> pl.DataFrame:
        """`eval_tps` (the 181 TPs) or `math500`: all 500 MATH500 test problems (M2's evaluation)."""
        if which == "math500":
            return data.math500_problems(Path(self.config.raw_dir))
        return super().held_out_problems(problems, which)

    def render(self, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
        """Stub demos first, then `demos`, then `question`; the completion is a rationale."""
        return prompts.render(self.config.prompt, demos, question, chat)

    def extract_answer(self, completion: str) -> str | None:
        return extract_answer(completion)

    def grade_many(self, answers: Sequence[str | None], golds: Sequence[str]) -> list[float]:
        """1.0 where the answer is equivalent to its gold, else 0.0 (math-verify reads gold first)."""
        if len(answers) != len(golds):
            raise ValueError(f"grade_many needs as many answers as golds, got {len(answers)} and {len(golds)}.")
        return [1.0 if ok else 0.0 for ok in self.grader.grade_many(golds, answers)]

    @property
    def grouping_modes(self) -> tuple[GroupingMode, ...]:  # type: ignore[override]
        """The configured grouping first, then the others (all are reported)."""
        grouping = self.config.grouping
        return (grouping, *(mode for mode in GROUPING_MODES if mode != grouping))

    def answer_groups(self, answers: Sequence[str | None], scopes: Sequence[object] | None = None,
                      mode: GroupingMode | None = None) -> list[str | None]:
        return group_answers(self.grader, answers, mode or self.config.grouping, scopes)

    def close(self) -> None:
        if "grader" in self.__dict__:  # built (and so running) only once used
            self.__dict__.pop("grader").close()


__all__ = [
    "FINAL_ANSWER_MARKER",
    "GradingParams",
    "MathGrader",
    "MathParams",
    "MathPromptConfig",
    "MathStubDemo",
    "MathTask",
    "clean_answer",
    "extract_answer",
    "group_answers",
    "last_boxed_content",
    "normalize_answer",
    "quick_verdict",
]
