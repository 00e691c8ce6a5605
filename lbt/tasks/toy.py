"""The toy task: problems from the toy world, its prompt layout, answers read after `A`."""

from __future__ import annotations

import random
from typing import Sequence

import polars as pl

from lbt.tasks.base import PROBLEM_COLUMNS, Demo, PromptSpec, Task
from lbt.toy.curriculum import render_prompt
from lbt.toy.world import ToyProblem, ToyWorld, ToyWorldConfig, worked_rationale


class ToyTask(Task):
    name = "toy"

    def __init__(self, config: ToyWorldConfig):
        self.world = ToyWorld(config)

    def load_problems(self) -> pl.DataFrame:
        eval_families, train_families = self.world.families()
        rng = random.Random(f"problems-{self.world.config.seed}")
        rows = []
        for roles, families in ((("tp", "ep"), eval_families), (("train", "train_ep"), train_families)):
            for verbs in families:
                for k, problem in enumerate(self.world.variants(verbs, self.world.config.n_ep, rng)):
                    rows.append(self._row(problem, roles[0] if k == 0 else roles[1], k))
        return pl.DataFrame(rows, schema={**PROBLEM_COLUMNS, "n_bad_verbs": pl.Int64}, orient="row")

    def _row(self, problem: ToyProblem, role: str, k: int) -> tuple:
        solution = worked_rationale(problem, self.world.true_ops(problem))
        bad = sum(v in self.world.wrong_op for v in problem.verbs)
        pid = problem.family_id if k == 0 else f"{problem.family_id}#{k}"
        return (pid, problem.family_id, role, problem.question, solution, self.world.answer(problem), bad)

    def render(self, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
        if chat:
            raise ValueError("The toy task has no chat format: set chat: false for the toy models.")
        return {"prompt": render_prompt([(d.question, d.rationale) for d in demos], question)}

    def extract_answer(self, completion: str) -> str | None:
        words = completion.split()
        for i in range(len(words) - 1, -1, -1):
            if words[i] == "A":
                nxt = words[i + 1] if i + 1 < len(words) else ""
                return nxt if nxt.isdigit() else None
        return None

    def is_correct(self, answer: str | None, gold: str) -> bool:
        return answer is not None and answer.strip() == gold.strip()
