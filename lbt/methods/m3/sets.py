"""Exemplar sets: ids, balanced and de-duplicated construction, the initial beam."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Sequence

import polars as pl

from lbt.tasks.base import Demo, Task


@dataclass(frozen=True)
class ExemplarSet:
    """E in-context exemplars in order; its id is a digest of their text (equal sets share it)."""

    demos: tuple[Demo, ...]

    @property
    def set_id(self) -> str:
        blob = "\x1e".join(f"{d.question}\x1f{d.rationale}" for d in self.demos)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def questions(self) -> list[str]:
        return [d.question for d in self.demos]

    @property
    def rationales(self) -> list[str]:
        return [d.rationale for d in self.demos]


def unique_demos(demos: Sequence[Demo]) -> list[Demo]:
    """The demos in order, keeping the first of any with the same question (whitespace and case ignored)."""
    seen, out = set(), []
    for demo in demos:
        key = " ".join(demo.question.lower().split())
        if key not in seen:
            seen.add(key)
            out.append(demo)
    return out


def demo_class(task: Task, demo: Demo) -> str | None:
    """A binary task's class of an exemplar (from its label), else None."""
    return task.extract_answer(demo.rationale) if task.positive_answer is not None else None


def build_set(task: Task, proposed: Sequence[Demo], fill: Sequence[Demo], size: int) -> ExemplarSet | None:
    """A set of `size` distinct exemplars: the proposed ones first, then `fill` (the parent's) as
    needed. A binary task's set holds size/2 of each class (extra ones of a class are dropped).
    None when too few distinct exemplars are at hand."""
    candidates = unique_demos([*proposed, *fill])
    if task.positive_answer is None:
        chosen = candidates[:size]
    else:
        half = size // 2
        positives = [d for d in candidates if demo_class(task, d) == task.positive_answer][:half]
        negatives = [d for d in candidates if demo_class(task, d) not in (None, task.positive_answer)][:half]
        chosen = [d for d in candidates if d in positives or d in negatives]
    return ExemplarSet(tuple(chosen)) if len(chosen) == size else None


def sample_items(pool: pl.DataFrame, n: int, rng: random.Random, task: Task | None = None) -> pl.DataFrame:
    """`n` distinct rows of `pool` (all when it is smaller); balanced between the classes of a
    binary task when `task` is given."""
    if task is None or task.positive_answer is None:
        return pool[sorted(rng.sample(range(pool.height), min(n, pool.height)))]
    positive = pool["answer"] == task.positive_answer
    parts = []
    for mask, k in ((positive, n // 2), (~positive, n - n // 2)):
        rows = pool.filter(mask)
        parts.append(rows[sorted(rng.sample(range(rows.height), min(k, rows.height)))])
    return pl.concat(parts)
