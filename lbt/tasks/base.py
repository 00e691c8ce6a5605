"""The task contract: what every task (toy, math, code, classification) provides.

The pipeline never looks inside a task's text. It asks the task for its problems, for the
problems that form each teaching problem's exam, to render prompts, to pull an answer out of
a completion (None when there is none: a wrong answer, never a crash), to grade answers
against structured gold with a score in [0, 1], and to group equivalent answers for voting.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Sequence

import polars as pl

if TYPE_CHECKING:
    from lbt.config import Params

# The columns every problems table has; tasks may add more (e.g. level, subject, tests).
PROBLEM_COLUMNS = {
    "problem_id": pl.String,
    "family_id": pl.String,  # a problem and its functional variants share it (or: a group of similar problems)
    "role": pl.String,  # see SPLITS
    "question": pl.String,
    "solution": pl.String,
    "answer": pl.String,  # the gold answer as text (a task with richer gold adds columns and overrides `golds`)
}


@dataclass(frozen=True)
class Split:
    """A set of teaching problems and the role their exam problems carry in the problems table."""

    name: str
    tp_role: str
    ep_role: str


# Evaluation TPs (M1) and training TPs (M2) are disjoint; every task's problems table uses these roles.
SPLITS = {s.name: s for s in (Split("eval", "tp", "ep"), Split("train", "train", "train_ep"))}
SplitName = Literal["eval", "train"]
# Problems that no split teaches with, from which exams by similarity draw (`lbt.tasks.similar`).
POOL_ROLE = "pool"

# How answers can be grouped into classes for voting; a task lists the modes it supports:
# equivalence (the task's own equivalence), exact (identical stripped strings), normalized
# (equal normal forms, e.g. the classic MATH normalisation: the paper's rule for math).
GROUPING_MODES = ("equivalence", "exact", "normalized")
GroupingMode = Literal["equivalence", "exact", "normalized"]


@dataclass(frozen=True)
class Demo:
    """A worked example shown in context: a question and its rationale (which ends in an answer)."""

    question: str
    rationale: str


# What a task renders: keyword arguments for GenerationRequest, i.e. {"prompt": str} or
# {"messages": ((role, content), ...)} plus any task-specific "stop" strings.
PromptSpec = dict[str, Any]

EXAM_SET_SCHEMA = {"tp_id": pl.String, "ep_id": pl.String}


def variant_exams(problems: pl.DataFrame, split: Split, max_eps: int | None = None) -> pl.DataFrame:
    """Exams of functional variants: a TP's EPs are the problems of its family with the split's
    EP role (the first `max_eps` by id when given). One row per (tp_id, ep_id)."""
    tps = problems.filter(pl.col("role") == split.tp_role).select("family_id", tp_id="problem_id")
    eps = problems.filter(pl.col("role") == split.ep_role).select("family_id", ep_id="problem_id")
    if max_eps is not None:
        eps = eps.sort("ep_id").group_by("family_id", maintain_order=True).head(max_eps)
    return tps.join(eps, on="family_id").select("tp_id", "ep_id").sort("tp_id", "ep_id")


def group_exams(problems: pl.DataFrame, split: Split, max_eps: int | None = None) -> pl.DataFrame:
    """Exams of similar problems: a TP's EPs are the other TPs of its group (same `family_id`),
    as in the paper's code groups (the first `max_eps` by id when given)."""
    tps = problems.filter(pl.col("role") == split.tp_role).select("family_id", tp_id="problem_id")
    pairs = tps.join(tps.rename({"tp_id": "ep_id"}), on="family_id").filter(pl.col("tp_id") != pl.col("ep_id"))
    pairs = pairs.sort("tp_id", "ep_id")
    if max_eps is not None:
        pairs = pairs.group_by("tp_id", maintain_order=True).head(max_eps)
    return pairs.select("tp_id", "ep_id")


class Task(ABC):
    name: str
    # The grouping modes this task supports; the first is the headline one.
    grouping_modes: tuple[GroupingMode, ...] = ("exact",)
    # Columns of the problems table that describe a problem (accuracy is broken down by them).
    descriptive_columns: tuple[str, ...] = ()
    # Binary tasks: the answer of the positive class (F1 is measured on it); None otherwise.
    positive_answer: str | None = None

    @classmethod
    def from_params(cls, params: Params) -> Task:
        """The task configured by its own params section (named as the task); a task that reads
        other sections overrides this."""
        return cls(getattr(params, cls.name))

    def summary(self) -> str:
        """One Markdown paragraph on the task's setup for the report (default: none)."""
        return ""

    # -- problems -------------------------------------------------------------------------------

    @abstractmethod
    def load_problems(self) -> pl.DataFrame:
        """The problems table (PROBLEM_COLUMNS first), with roles from SPLITS. Stops with one
        sentence naming a missing or wrong input file."""

    def exam_sets(self, problems: pl.DataFrame, split: Split, max_eps: int | None = None) -> pl.DataFrame:
        """Which problems form each TP's exam: (tp_id, ep_id) rows. Default: functional variants."""
        return variant_exams(problems, split, max_eps)

    def held_out_problems(self, problems: pl.DataFrame, which: str) -> pl.DataFrame:
        """Problems never trained on, for evaluating a tuned teacher: `eval_tps` (the evaluation
        TPs of the problems table) is every task's; a task may offer other sets."""
        if which != "eval_tps":
            raise ValueError(f"The {self.name} task has no held-out problem set {which!r}: use eval_tps.")
        return problems.filter(pl.col("role") == SPLITS["eval"].tp_role)

    def golds(self, problems: pl.DataFrame) -> list[Any]:
        """The structured gold of each row, as `grade_many` takes it (default: the answer text)."""
        return problems["answer"].to_list()

    # -- prompts --------------------------------------------------------------------------------

    @abstractmethod
    def render(self, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
        """A prompt asking for a rationale of `question` after the in-context `demos`."""

    def teacher_prompt(self, question: str, exemplars: Sequence[Demo], chat: bool) -> PromptSpec:
        """The teacher answering a TP (M3 passes the exemplars it optimises)."""
        return self.render(exemplars, question, chat)

    def exam_prompt(self, tp_question: str, rationale: str, ep_question: str, chat: bool) -> PromptSpec:
        """A student sitting one EP with the TR (on its TP) as its in-context example."""
        return self.render([Demo(tp_question, rationale)], ep_question, chat)

    # -- answers --------------------------------------------------------------------------------

    @abstractmethod
    def extract_answer(self, completion: str) -> str | None:
        """The final answer in a completion, or None when none can be read."""

    @abstractmethod
    def grade_many(self, answers: Sequence[str | None], golds: Sequence[Any]) -> list[float]:
        """A score in [0, 1] per (answer, gold): 1 for a correct answer of a binary task, the
        pass rate for code. None (no answer) always scores 0."""

    def feedback(self, answers: Sequence[str | None], golds: Sequence[Any]) -> list[str | None]:
        """Why each answer fails its gold, as the model is told when it revises it; None where
        it needs no revision. Only tasks whose answers are programs (`programs` in `lbt.tasks.registry`)."""
        raise NotImplementedError(f"The {self.name} task gives no feedback on answers (no self-debugging).")

    def revision_prompt(self, prompt: PromptSpec, completion: str, feedback: str, chat: bool) -> PromptSpec:
        """The prompt for one revision: what produced `completion`, the completion, the feedback."""
        raise NotImplementedError(f"The {self.name} task has no revision prompt (no self-debugging).")

    def answer_groups(self, answers: Sequence[str | None], scopes: Sequence[object] | None = None,
                      mode: GroupingMode | None = None) -> list[str | None]:
        """A class label per answer so that equivalent answers share a label (for voting);
        `scopes` (one per answer, e.g. the TP id) says which answers are ever compared. The
        default groups identical stripped strings; tasks with richer equivalence override it."""
        return [None if a is None or not a.strip() else a.strip() for a in answers]

    def close(self) -> None:  # noqa: B027 (a hook: most tasks hold nothing)
        """Release what the task holds (worker processes); the default holds nothing."""

    def __enter__(self) -> "Task":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
