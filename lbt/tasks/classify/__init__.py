"""The `classify` task: binary text classification (Liar, Logical Fallacy) for M3.

A problem's answer is its label, "1" (the positive class: a false statement, a faulty
generalization) or "0"; a rationale is a label word (`classify.prompt.positive` / `negative`),
so an exemplar is (text, label word). Answers are read as the first label word of a completion
(none: no answer, graded wrong). Modules: `config` (params schema), `data` (checksummed loaders).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import polars as pl

from lbt.tasks.base import Demo, PromptSpec, Task
from lbt.tasks.classify import data
from lbt.tasks.classify.config import INSTRUCTIONS, ClassifyParams
from lbt.tasks.prompting import render_layout


class ClassifyTask(Task):
    name = "classify"
    positive_answer = "1"

    def __init__(self, config: ClassifyParams | None = None) -> None:
        self.config = config or ClassifyParams()
        prompt = self.config.prompt
        words = {prompt.positive.lower(): "1", prompt.negative.lower(): "0"}
        self._labels = words
        self._word = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)

    def load_problems(self) -> pl.DataFrame:
        problems = data.load_problems(self.config.dataset, Path(self.config.raw_dir), self.config.text_chars)
        return problems.with_columns(solution=pl.col("answer").replace_strict(
            {"1": self.config.prompt.positive, "0": self.config.prompt.negative}))

    def summary(self) -> str:
        return f"Binary classification: `{self.config.dataset}` (label 1: {self.config.prompt.positive})."

    @property
    def instruction(self) -> str:
        return self.config.prompt.instruction or INSTRUCTIONS[self.config.dataset]

    def render(self, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
        layout = self.config.prompt.model_copy(update={"instruction": self.instruction})
        shown = [(d.question, (" " if not chat else "") + d.rationale) for d in demos]
        return render_layout(layout, shown, question, chat)

    def label_word(self, answer: str) -> str:
        return self.config.prompt.positive if answer == "1" else self.config.prompt.negative

    def extract_answer(self, completion: str) -> str | None:
        """The class of the first label word in the completion, or None."""
        found = self._word.search(completion or "")
        return self._labels[found.group(1).lower()] if found else None

    def grade_many(self, answers: Sequence[str | None], golds: Sequence[Any]) -> list[float]:
        return [float(a is not None and a == str(g)) for a, g in zip(answers, golds)]


__all__ = ["ClassifyParams", "ClassifyTask"]
