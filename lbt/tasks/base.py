"""What every task provides: its problems, its prompts, and how its answers are read and graded.

The pipeline never looks inside a task's text: it asks the task to render prompts, to pull
an answer out of a completion (None when there is none: a wrong answer, never a crash), to
grade it against the gold answer, and to group equivalent answers for voting.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence

import polars as pl

# The columns every problems table has; tasks may add more (e.g. level, subject).
PROBLEM_COLUMNS = {
    "problem_id": pl.String,
    "family_id": pl.String,
    "role": pl.String,  # "tp" (teaching problem), "ep" (exam problem), "train", "train_ep" (its EPs)
    "question": pl.String,
    "solution": pl.String,
    "answer": pl.String,
}


@dataclass(frozen=True)
class Demo:
    """A worked example shown in context: a question and its rationale (which ends in an answer)."""

    question: str
    rationale: str


# What a task renders: keyword arguments for GenerationRequest, i.e. {"prompt": str} or
# {"messages": ((role, content), ...)} plus any task-specific "stop" strings.
PromptSpec = dict[str, Any]


class Task(ABC):
    name: str

    @abstractmethod
    def load_problems(self) -> pl.DataFrame:
        """The problems table (PROBLEM_COLUMNS first): TPs, their EPs (same family_id), and
        any training pool. Stops with one sentence naming a missing or wrong input file."""

    @abstractmethod
    def render(self, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
        """A prompt asking for a rationale of `question` after the in-context `demos`."""

    def teacher_prompt(self, question: str, exemplars: Sequence[Demo], chat: bool) -> PromptSpec:
        """The teacher answering a TP (M3 passes the exemplars it optimises)."""
        return self.render(exemplars, question, chat)

    def exam_prompt(self, tp_question: str, rationale: str, ep_question: str, chat: bool) -> PromptSpec:
        """A student sitting one EP with the TR (on its TP) as its in-context example."""
        return self.render([Demo(tp_question, rationale)], ep_question, chat)

    @abstractmethod
    def extract_answer(self, completion: str) -> str | None:
        """The final answer in a completion, or None when none can be read."""

    @abstractmethod
    def is_correct(self, answer: str | None, gold: str) -> bool:
        """Whether `answer` is equivalent to `gold` (None is always wrong)."""

    def is_correct_many(self, answers: Sequence[str | None], golds: Sequence[str]) -> list[bool]:
        """`is_correct` over many pairs; tasks with costly grading batch and memoise it."""
        return [self.is_correct(a, g) for a, g in zip(answers, golds)]

    # The ways this task can group answers for voting; the first is the headline one.
    grouping_modes: tuple[str, ...] = ("exact",)

    def answer_groups(self, answers: Sequence[str | None], scopes: Sequence[object] | None = None,
                      mode: str | None = None) -> list[str | None]:
        """A class label per answer so that equivalent answers share a label (for voting);
        `scopes` (one per answer, e.g. the TP id) says which answers are ever compared. The
        default groups identical stripped strings; tasks with richer equivalence override it."""
        return [None if a is None or not a.strip() else a.strip() for a in answers]
