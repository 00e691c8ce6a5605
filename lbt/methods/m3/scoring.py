"""Answering items with an exemplar set, and scoring the answers (F1 of the positive class or accuracy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import polars as pl

from lbt.engines.base import Completion, GenerationRequest, derive_seed
from lbt.engines.config import ModelConfig
from lbt.tasks.base import Task
from lbt.teaching.config import SamplingParams

from lbt.methods.m3.sets import ExemplarSet


def answer_prompt(task: Task, model: ModelConfig, exemplars: ExemplarSet, question: str) -> dict:
    """The one place where M3 renders a model's prompt for an item with an exemplar set."""
    return task.teacher_prompt(question, list(exemplars.demos), model.chat)


def request(spec: dict, p: SamplingParams, n: int, seed: int) -> GenerationRequest:
    """A request for `spec` (a prompt or messages) with the sampling of `p`."""
    return GenerationRequest(**spec, n=n, temperature=p.temperature, top_p=p.top_p, top_k=p.top_k,
                             max_tokens=p.max_tokens, seed=seed)


def answer_requests(task: Task, model: ModelConfig, exemplars: ExemplarSet, items: pl.DataFrame,
                    p: SamplingParams, seed: int) -> list[GenerationRequest]:
    """One request per item; its seed depends on the set and the item only (any run, any setting)."""
    return [request(answer_prompt(task, model, exemplars, question), p, 1,
                    derive_seed(seed, "m3-answer", exemplars.set_id, problem_id))
            for problem_id, question in items.select("problem_id", "question").iter_rows()]


@dataclass(frozen=True)
class Graded:
    """A model's answers to items with one set."""

    texts: list[str]
    answers: list[str | None]
    grades: list[float]
    golds: list[str]


def grade(task: Task, items: pl.DataFrame, outputs: Sequence[Sequence[Completion]]) -> Graded:
    texts = [c[0].text for c in outputs]
    answers = [task.extract_answer(t) for t in texts]
    golds = task.golds(items)
    return Graded(texts, answers, task.grade_many(answers, golds), [str(g) for g in golds])


def score(metric: str, graded: Graded, positive: str | None) -> float:
    """Accuracy (mean grade), or F1 of the positive class (no answer counts as a negative)."""
    if metric == "accuracy" or not graded.grades:
        return sum(graded.grades) / len(graded.grades) if graded.grades else 0.0
    predicted = [a == positive for a in graded.answers]
    actual = [g == positive for g in graded.golds]
    tp = sum(p and a for p, a in zip(predicted, actual))
    wrong = sum(p != a for p, a in zip(predicted, actual))
    return 2 * tp / (2 * tp + wrong) if tp + wrong else 0.0
