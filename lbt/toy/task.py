"""The toy task: problems from the toy world, its prompt layout, answers read after `A`."""

from __future__ import annotations

import random
from typing import Any, Sequence

import polars as pl

from lbt.config import Params
from lbt.tasks.base import POOL_ROLE, PROBLEM_COLUMNS, SPLITS, Demo, PromptSpec, Task
from lbt.toy.config import ToyParams
from lbt.toy.curriculum import render_prompt
from lbt.toy.world import ToyProblem, ToyWorld, parse_question, worked_rationale


class ToyTask(Task):
    """Needs the `toy` section to load problems; prompts and grading need nothing."""

    name = "toy"
    descriptive_columns = ("n_bad_verbs",)

    def __init__(self, config: ToyParams | None = None):
        self.config = config

    @classmethod
    def from_params(cls, params: Params) -> ToyTask:
        return cls(params.toy if params.has("toy") else None)

    def load_problems(self) -> pl.DataFrame:
        if self.config is None:
            raise ValueError("The toy task needs the `toy` params section to build its problems.")
        world, counts = ToyWorld(self.config.world), self.config.problems
        eval_families, train_families = world.families(counts.n_tp, counts.n_train_families, counts.n_pool_families)
        rng = random.Random(f"problems-{world.config.seed}")
        rows = []
        for split, families in ((SPLITS["eval"], eval_families), (SPLITS["train"], train_families)):
            for verbs in families:
                for k, problem in enumerate(world.variants(verbs, counts.n_ep, rng)):
                    rows.append(_row(world, problem, split.tp_role if k == 0 else split.ep_role, k))
        pool_rng = random.Random(f"pool-{world.config.seed}")  # the other problems do not depend on the pool
        for verbs in world.pool_families(counts.n_tp, counts.n_train_families, counts.n_pool_families):
            for k, problem in enumerate(world.variants(verbs, counts.n_ep - 1, pool_rng)):
                rows.append(_row(world, problem, POOL_ROLE, k, prefix="pool:"))
        return pl.DataFrame(rows, schema={**PROBLEM_COLUMNS, "n_bad_verbs": pl.Int64}, orient="row")

    def summary(self) -> str:
        if self.config is None:
            return ""
        w, p, s = self.config.world, self.config.problems, self.config.student
        bad = " ".join(sorted(ToyWorld(w).wrong_op))
        names = ", and names the true operation there by either of two words" if w.true_op_names == 2 else ""
        personas = "; ".join(
            f"student persona `{name}` follows its example {s.persona_follow_prob(name):.0%} of the time, except on "
            f"{' '.join(persona.flawed_verbs) or 'no verb'}" for name, persona in s.personas.items()
        ) or f"the student follows its example {s.follow_prob:.0%} of the time"
        return (
            f"Toy world: {w.n_verbs} verbs in chains of {w.n_steps}; {p.n_tp} TPs with {p.n_ep} EPs each; the "
            f"teacher is wrong on {w.bad_verb_fraction:.0%} of verbs ({bad}) {w.teacher_wrong_prob:.0%} of the "
            f"time{names}; {personas}."
        )

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

    def question_verbs(self, question: str) -> list[str]:
        """The verbs of a toy question, in order (none when it is not one): what M3's toy operator reflects on."""
        problem = parse_question(question)
        return list(problem.verbs) if problem else []

    def grade_many(self, answers: Sequence[str | None], golds: Sequence[Any]) -> list[float]:
        return [float(a is not None and a.strip() == str(g).strip()) for a, g in zip(answers, golds)]


def _row(world: ToyWorld, problem: ToyProblem, role: str, k: int, prefix: str = "") -> tuple:
    solution = worked_rationale(problem, world.true_ops(problem))
    bad = sum(v in world.wrong_op for v in problem.verbs)
    pid = prefix + (problem.family_id if k == 0 else f"{problem.family_id}#{k}")
    return (pid, problem.family_id, role, problem.question, solution, world.answer(problem), bad)
