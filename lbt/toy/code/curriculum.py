"""What the tiny teacher and student of the toy-code world are trained on: (prompt, completion)
pairs in the layout the pipeline prompts with (`lbt.toy.curriculum.render_prompt`; a revision
appends ` <failed program> E <failing test> R`).

- The **teacher** writes the program of a chain from its (flawed) belief about each verb
  (zero-shot, as the rationales stage asks it). Revising a failed program, it draws again from
  its belief, anything but the operations that failed.
- The **student** sees one program of its group (operations shown true half the time, else
  random) and writes the program of another chain: the operations of the verbs its example
  shows (with probability `toy.student.follow_prob`), its own (true) ones for the others.
  Revising a failed answer, it replaces each operation that differs from its own by its own
  with probability `toy_code.training.student_fix_prob`.

A batch is all of one kind (writing or revising), so short prompts are not padded to long ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import permutations

from lbt.toy.code.world import ToyCodeWorld, program
from lbt.toy.curriculum import Example, render_prompt, shown_op


def revision_prompt(prompt: str, failed: str, feedback: str) -> str:
    """The prompt of one revision: the original prompt, the failed program, the failing test."""
    return f"{prompt} {failed} E {feedback} R"


@dataclass(frozen=True)
class CodeCurriculum:
    """Training batches for one role; called with (rng, size) by lbt.toy.train (picklable)."""

    world: ToyCodeWorld
    role: str
    follow_prob: float = 1.0

    def __call__(self, rng: random.Random, size: int) -> list[Example]:
        revise = rng.random() < self.world.config.training.debug_share
        make = {("teacher", False): self.teacher_example, ("teacher", True): self.teacher_revision,
                ("student", False): self.student_example, ("student", True): self.student_revision}
        if (self.role, revise) not in make:
            raise ValueError(f"Unknown toy model role {self.role!r}: use 'teacher' or 'student'.")
        return [Example(*make[self.role, revise](rng), free_steps=()) for _ in range(size)]

    def _chain(self, rng: random.Random) -> tuple[str, ...]:
        return tuple(rng.sample(self.world.world.verbs, self.world.world.config.n_steps))

    def teacher_example(self, rng: random.Random) -> tuple[str, str]:
        verbs = self._chain(rng)
        return render_prompt([], " ".join(["Q", *verbs])), program(verbs, self.world.teacher_ops(verbs, rng))

    def teacher_revision(self, rng: random.Random) -> tuple[str, str]:
        """A failed program from the teacher's belief, and a different draw from that belief."""
        for _ in range(100):
            verbs = self._chain(rng)
            ops = self.world.teacher_ops(verbs, rng)
            failing = self.world.failing_test(verbs, ops, rng)
            if failing is not None:
                break
        else:  # a teacher that is never wrong never revises: teach it to write
            return self.teacher_example(rng)
        retry = next((o for o in (self.world.teacher_ops(verbs, rng) for _ in range(20)) if o != ops), ops)
        prompt = render_prompt([], " ".join(["Q", *verbs]))
        return revision_prompt(prompt, program(verbs, ops), failing), program(verbs, retry)

    def _exam(self, rng: random.Random, need_wrong: bool) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        """(prompt, chain, operations the student writes): a demo and a query from one verb pool."""
        n_steps, pool_size = self.world.world.config.n_steps, self.world.config.groups.group_verbs
        while True:
            pool = rng.sample(self.world.world.verbs, pool_size)
            demo, query = rng.sample(list(permutations(pool, n_steps)), 2)
            shown = {v: shown_op(self.world.world, v, rng) for v in demo}
            follows = need_wrong or rng.random() < self.follow_prob
            ops = tuple(shown[v] if follows and v in shown else self.world.world.true_op[v] for v in query)
            if not need_wrong or ops != self.world.true_ops(query):
                break
        prompt = render_prompt([(" ".join(["Q", *demo]), program(demo, tuple(shown[v] for v in demo)))],
                               " ".join(["Q", *query]))
        return prompt, query, ops

    def student_example(self, rng: random.Random) -> tuple[str, str]:
        prompt, query, ops = self._exam(rng, need_wrong=False)
        return prompt, program(query, ops)

    def student_revision(self, rng: random.Random) -> tuple[str, str]:
        """A failed exam answer (it followed a wrong example), and the student's revision."""
        for _ in range(100):
            prompt, query, ops = self._exam(rng, need_wrong=True)
            failing = self.world.failing_test(query, ops, rng)
            if failing is not None:
                break
        else:
            return self.student_example(rng)
        fix = self.world.config.training.student_fix_prob
        truth = self.world.true_ops(query)
        revised = tuple(t if o != t and rng.random() < fix else o for o, t in zip(ops, truth))
        return revision_prompt(prompt, program(query, ops), failing), program(query, revised)
