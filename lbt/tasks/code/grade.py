"""Grading code answers in the sandbox: pass rates (the task's score), V-scores and S-scores.

A gold is a `CodeGold`: the preamble run before the answer, the entry point bound to
`candidate`, and test snippets. An answer's score is the fraction of its tests that held
(0 for no answer); its V-score is 1 when all visible tests pass; its S-score is its pass rate
on the hidden tests (the paper's M1 code metrics).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

from lbt.sandbox import Job, Limits, RunResult, SandboxPool
from lbt.tasks.code.config import CodeSandboxParams


@dataclass(frozen=True)
class CodeGold:
    """What an answer is run against."""

    preamble: str
    entry_point: str
    tests: tuple[str, ...]

    @classmethod
    def from_row(cls, row: dict[str, Any], which: str = "visible_tests") -> "CodeGold":
        return cls(row["preamble"] or "", row["entry_point"], tuple(json.loads(row[which])))

    def program(self, answer: str) -> str:
        """The preamble, then the answer (the answer may redefine what the preamble gives)."""
        return f"{self.preamble}\n\n{answer}\n" if self.preamble else answer


class CodeGrader:
    """A sandbox pool, started on first use; `close` stops it."""

    def __init__(self, config: CodeSandboxParams | None = None) -> None:
        self.config = config or CodeSandboxParams()
        self._results: dict[Job, RunResult] = {}  # runs are deterministic: each program once per grader

    @cached_property
    def pool(self) -> SandboxPool:
        """The sandbox pool, started on first use."""
        limits = Limits(timeout_s=self.config.timeout_s, memory_mb=self.config.memory_mb)
        return SandboxPool(self.config.workers, limits)

    def run_many(self, answers: Sequence[str | None], golds: Sequence[CodeGold]) -> list[RunResult | None]:
        """The sandbox result of each (answer, gold); None where there is no answer. Identical
        programs with identical tests run once (also across calls: grading, then feedback)."""
        if len(answers) != len(golds):
            raise ValueError(f"Grading needs as many answers as golds, got {len(answers)} and {len(golds)}.")
        indices = [i for i, a in enumerate(answers) if a is not None and a.strip()]
        jobs = [Job(golds[i].program(answers[i]), golds[i].tests, golds[i].entry_point) for i in indices]  # type: ignore[arg-type]
        todo = list(dict.fromkeys(j for j in jobs if j not in self._results))
        self._results.update(zip(todo, self.pool.run_many(todo)))
        results: list[RunResult | None] = [None] * len(answers)
        for index, job in zip(indices, jobs):
            results[index] = self._results[job]
        return results

    def pass_rates(self, answers: Sequence[str | None], golds: Sequence[CodeGold]) -> list[float]:
        """The fraction of tests each answer passes (0 for no answer)."""
        return [r.pass_rate if r is not None else 0.0 for r in self.run_many(answers, golds)]

    def all_passed(self, answers: Sequence[str | None], golds: Sequence[CodeGold]) -> list[float]:
        """1.0 where every test passes (the V-score on visible tests), else 0.0."""
        return [1.0 if r is not None and r.passed else 0.0 for r in self.run_many(answers, golds)]

    def close(self) -> None:
        if "pool" in self.__dict__:  # built (and so running) only once used
            self.__dict__.pop("pool").close()
