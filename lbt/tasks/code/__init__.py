"""The `code` task: groups of similar programming problems, answers are Python programs.

Modules: `config` (the params schemas), `testcases` (test snippets and the visible/hidden
split), `data` (checksummed raw files, records as rows), `groups` (LeetCodeDataset tags,
HumanEval blocks or your own JSONL), `prompts` (also the self-debugging turn), `extract` (the
last ```python block; code normalised for grouping), `grade` (pass rates, V- and S-scores in the
sandbox, lbt/sandbox) and `tested` (what every task graded by tests shares, the toy-code one too).

As in the paper (App. A.3): every problem of a group is a TP and its exam is the other
problems of the group; the task's grade is the V-score (all visible tests pass; `code.grade:
pass_rate` grades by the visible pass rate), so the LbT score is the mean V-score of the exam
answers; the S-score is the hidden-test pass rate;
M1-MAX picks the teaching answer (there is no answer vote worth the name: answers are grouped
only when their normalised code is identical).
"""

from __future__ import annotations

from typing import Sequence

import polars as pl

from lbt.tasks.base import Demo, PromptSpec
from lbt.tasks.code import groups, prompts
from lbt.tasks.code.config import CodeParams, CodePromptConfig, CodeSandboxParams
from lbt.tasks.code.extract import extract_code, normalize_code
from lbt.tasks.code.grade import CodeGold, CodeGrader
from lbt.tasks.code.tested import TestedCodeTask


class CodeTask(TestedCodeTask):
    """Python code synthesis graded by tests in the sandbox."""

    name = "code"
    descriptive_columns = ("difficulty",)

    def __init__(self, config: CodeParams | None = None) -> None:
        self.config = config or CodeParams()
        super().__init__(self.config.sandbox, self.config.grade)

    def load_problems(self) -> pl.DataFrame:
        return groups.load_problems(self.config)

    def summary(self) -> str:
        return (f"Code: groups from `{self.config.source}`; each TP's exam is the other problems of its group; "
                f"{self.config.visible_tests} visible tests per problem where the data has no examples; "
                f"answers run in the sandbox (grade: {self.grade_mode.replace('_', '-')} on the visible tests).")

    def render(self, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
        return prompts.render(self.config.prompt, demos, question, chat)

    def revision_prompt(self, prompt: PromptSpec, completion: str, feedback: str, chat: bool) -> PromptSpec:
        return prompts.revision(self.config.prompt, prompt, completion, feedback, chat)

    def extract_answer(self, completion: str) -> str | None:
        return extract_code(completion)


__all__ = ["CodeGold", "CodeGrader", "CodeParams", "CodePromptConfig", "CodeSandboxParams", "CodeTask",
           "TestedCodeTask", "extract_code", "normalize_code"]
