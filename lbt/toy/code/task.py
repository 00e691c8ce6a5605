"""The toy-code task: the toy world's groups of verb chains as programs (`lbt.toy.code.world`), graded by
tests in the sandbox like the `code` task (V-scores, S-scores, self-debugging)."""

from __future__ import annotations

import json
from typing import Sequence

import polars as pl

from lbt.config import Params
from lbt.sandbox import RunResult
from lbt.tasks.base import PROBLEM_COLUMNS, Demo, PromptSpec
from lbt.tasks.code.data import EXTRA_COLUMNS
from lbt.tasks.code.tested import TestedCodeTask
from lbt.toy.code.config import ToyCodeParams
from lbt.toy.code.curriculum import revision_prompt
from lbt.toy.code.world import ENTRY_POINT, PREAMBLE, CodeProblem, ToyCodeWorld, program
from lbt.toy.config import ToyWorldConfig
from lbt.toy.curriculum import render_prompt
from lbt.toy.world import ToyWorld


class ToyCodeTask(TestedCodeTask):
    """Needs `toy.world` to load problems; prompts, extraction and grading need `toy_code` only."""

    name = "toy_code"
    descriptive_columns = ("n_bad_verbs",)

    def __init__(self, config: ToyCodeParams, world: ToyWorldConfig | None = None) -> None:
        super().__init__(config.sandbox, config.grade)
        self.config, self.world_config = config, world

    @classmethod
    def from_params(cls, params: Params) -> ToyCodeTask:
        return cls(params.toy_code, params.toy.world if params.has("toy") else None)

    def load_problems(self) -> pl.DataFrame:
        if self.world_config is None:
            raise ValueError("The toy_code task needs the `toy.world` params section to build its problems.")
        world = ToyCodeWorld(ToyWorld(self.world_config), self.config)
        rows = [self._row(world, p) for group in world.groups() for p in group]
        schema = {**PROBLEM_COLUMNS, **EXTRA_COLUMNS, "n_bad_verbs": pl.Int64}
        return pl.DataFrame(rows, schema=schema).sort("family_id", "problem_id")

    @staticmethod
    def _row(world: ToyCodeWorld, problem: CodeProblem) -> dict:
        visible, hidden = world.tests(problem)
        solution = program(problem.verbs, world.true_ops(problem.verbs))
        return {
            "problem_id": problem.problem_id, "family_id": problem.group, "role": "tp", "question": problem.question,
            "solution": solution, "answer": solution, "source": "toy_code", "difficulty": None, "tags": "[]",
            "starter_code": "", "preamble": PREAMBLE, "entry_point": ENTRY_POINT,
            "visible_tests": json.dumps(visible), "hidden_tests": json.dumps(hidden),
            "n_bad_verbs": sum(v in world.world.wrong_op for v in problem.verbs),
        }

    def summary(self) -> str:
        g, t = self.config.groups, self.config.tests
        return (f"Toy code: {g.n_groups} groups of {g.group_size} verb chains over {g.group_verbs} shared verbs; every "
                f"problem is a TP whose exam is the rest of its group; {t.visible} visible and {t.hidden} hidden tests "
                "per problem, run in the sandbox.")

    def render(self, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
        if chat:
            raise ValueError("The toy_code task has no chat format: set chat: false for the toy models.")
        return {"prompt": render_prompt([(d.question, d.rationale) for d in demos], question)}

    def revision_prompt(self, prompt: PromptSpec, completion: str, feedback: str, chat: bool) -> PromptSpec:
        return {"prompt": revision_prompt(prompt["prompt"], completion.strip(), feedback)}

    def extract_answer(self, completion: str) -> str | None:
        """The program: the completion from its `def` on (None without one)."""
        start = completion.find("def ")
        return completion[start:].strip() + "\n" if start >= 0 else None

    def describe_failure(self, result: RunResult | None) -> str:
        """The failing test in the models' words, or `error` when no test failed (the program broke)."""
        return result.failing_test if result is not None and result.failing_test else "error"
