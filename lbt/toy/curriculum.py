"""What the toy teacher and student are trained on, and the prompt layout every caller uses.

**Prompt layout** (the contract the teaching stages and M3 code against):

    Q <verbs> <digits> R <rationale> | … | Q <verbs> <digits> R

`render_prompt(demos, question)` joins zero or more worked examples `(question, rationale)`
with ` | `, in the order shown, then the question ending in `R`; the completion is a rationale
(`lbt.toy.world.worked_rationale`). The student model also takes a persona token as the first
word; callers never write it: the engine puts a student entry's `prompt_prefix` first
(`lbt.engines.base.with_prefix`). Prompts of up to `toy.train.max_demos` examples fit the
models' `toy.train.n_positions`.

**Following rule** (both models, examples of any families, up to `max_demos` of them): for each
verb of the question the model uses the operation that the **last** example showing that verb
uses (examples that disagree: the later one wins). For a verb no example shows it uses its own
belief: the teacher its flawed one (the wrong operation on a bad verb `teacher_wrong_prob` of the
time), the student the true operation. A student **persona** (`toy.student.personas`) never
follows examples on its `flawed_verbs` (true operation there), and follows at all with its
follow probability, drawn once per prompt (when it does not, it uses the true operations).

**Batches**: the teacher's are zero-shot (M1's rationale prompts) or, with probability
`fewshot_prob`, hold E examples of any families (E uniform in 1..max_demos; about half of the
examples share a verb with the question). The student's show one example of the question's
family (M1's exam layout) or, with probability `fewshot_prob`, E examples of any families; each
row is one persona, drawn uniformly. Every row of a batch has the same kind and E, hence the
same length: no padding.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from lbt.engines.base import with_prefix
from lbt.toy.config import ToyStudentConfig, ToyTrainConfig
from lbt.toy.world import OPERATIONS, ToyProblem, ToyWorld, worked_rationale

ROLES = ("teacher", "student")
FAMILY = -1  # a batch kind: one example of the question's family (the student's M1 exam layout)


def render_prompt(demos: Sequence[tuple[str, str]], question: str) -> str:
    parts = [f"{q} R {r}" for q, r in demos]
    return " | ".join([*parts, f"{question} R"])


@dataclass(frozen=True)
class Persona:
    """A student the student model plays: its token (None: no persona token), flaws, follow rate."""

    token: str | None
    follow_prob: float
    flawed_verbs: frozenset[str] = frozenset()


def student_personas(student: ToyStudentConfig) -> list[Persona]:
    """The configured personas, or one persona-less student when there are none."""
    if not student.personas:
        return [Persona(None, student.follow_prob)]
    return [Persona(name, student.persona_follow_prob(name), frozenset(p.flawed_verbs))
            for name, p in student.personas.items()]


@dataclass(frozen=True)
class Example:
    """A training (or probe) pair; `free_steps` marks steps whose operation is a random draw (the
    probe checks every other word of the completion)."""

    prompt: str
    completion: str
    free_steps: tuple[bool, ...]


@dataclass(frozen=True)
class _Demo:
    problem: ToyProblem
    ops: tuple[str, ...]

    def as_pair(self) -> tuple[str, str]:
        return self.problem.question, worked_rationale(self.problem, self.ops)


def _random_chain(world: ToyWorld, rng: random.Random) -> tuple[str, ...]:
    return tuple(rng.choice(world.verbs) for _ in range(world.config.n_steps))


def shown_op(world: ToyWorld, verb: str, rng: random.Random) -> str:
    """What an example shows for a verb: the true operation half the time, else any."""
    return world.true_op[verb] if rng.random() < 0.5 else rng.choice(list(OPERATIONS))


def _demo(world: ToyWorld, chain: tuple[str, ...], rng: random.Random) -> _Demo:
    """One worked example; a verb repeated in its chain shows one operation."""
    shown: dict[str, str] = {}
    for verb in chain:
        shown.setdefault(verb, shown_op(world, verb, rng))
    return _Demo(world.random_problem(chain, rng), tuple(shown[v] for v in chain))


def family_demos(world: ToyWorld, problem: ToyProblem, rng: random.Random) -> list[_Demo]:
    return [_demo(world, problem.verbs, rng)]


def mixed_demos(world: ToyWorld, problem: ToyProblem, rng: random.Random, n: int) -> list[_Demo]:
    """`n` examples of random chains; each shares a verb with the question half the time."""
    demos = []
    for _ in range(n):
        chain = list(_random_chain(world, rng))
        if rng.random() < 0.5:
            chain[rng.randrange(len(chain))] = rng.choice(problem.verbs)
        demos.append(_demo(world, tuple(chain), rng))
    return demos


def last_shown(demos: Sequence[_Demo]) -> dict[str, str]:
    """The operation each verb gets from the examples: the last one showing it wins."""
    shown: dict[str, str] = {}
    for demo in demos:
        shown.update(zip(demo.problem.verbs, demo.ops))
    return shown


def _example(demos: Sequence[_Demo], problem: ToyProblem, ops: tuple[str, ...], free: tuple[bool, ...],
             prefix: str | None = None, rationale: str | None = None) -> Example:
    prompt = render_prompt([d.as_pair() for d in demos], problem.question)
    return Example(with_prefix(prefix, prompt), rationale or worked_rationale(problem, ops), free)


def teacher_example(world: ToyWorld, rng: random.Random, n_demos: int) -> Example:
    problem = world.random_problem(_random_chain(world, rng), rng)
    demos = mixed_demos(world, problem, rng, n_demos)
    ops_of = last_shown(demos)
    shown = set(ops_of)
    for verb in problem.verbs:  # one belief per verb in a rationale, drawn in the chain's order
        ops_of.setdefault(verb, world.teacher_op(verb, rng))
    ops = tuple(ops_of[v] for v in problem.verbs)
    p = world.config.teacher_wrong_prob
    free = tuple(v not in shown and v in world.wrong_op and 0 < p < 1 for v in problem.verbs)
    return _example(demos, problem, ops, free, rationale=world.teacher_rationale(problem, ops, rng))


def student_example(world: ToyWorld, rng: random.Random, persona: Persona, n_demos: int = FAMILY) -> Example:
    """A student example for `persona`: one example of the question's family (`FAMILY`) or `n_demos`
    examples of any families."""
    problem = world.random_problem(_random_chain(world, rng), rng)
    demos = family_demos(world, problem, rng) if n_demos == FAMILY else mixed_demos(world, problem, rng, n_demos)
    shown = {v: op for v, op in last_shown(demos).items() if v not in persona.flawed_verbs}
    follows = rng.random() < persona.follow_prob
    ops = tuple(shown[v] if follows and v in shown else world.true_op[v] for v in problem.verbs)
    unsure = 0 < persona.follow_prob < 1
    free = tuple(unsure and v in shown and shown[v] != world.true_op[v] for v in problem.verbs)
    return _example(demos, problem, ops, free, persona.token)


def batch_kind(role: str, rng: random.Random, train: ToyTrainConfig) -> int:
    """The number of examples in every prompt of a batch (or `FAMILY`)."""
    if rng.random() < train.fewshot_prob:
        return rng.randint(1, train.max_demos)
    return 0 if role == "teacher" else FAMILY


def training_batch(role: str, world: ToyWorld, rng: random.Random, size: int, train: ToyTrainConfig,
                   personas: Sequence[Persona] = (Persona(None, 1.0),)) -> list[Example]:
    """One batch of examples of one kind (see the module docstring)."""
    if role not in ROLES:
        raise ValueError(f"Unknown toy model role {role!r}: use 'teacher' or 'student'.")
    kind = batch_kind(role, rng, train)
    if role == "teacher":
        return [teacher_example(world, rng, kind) for _ in range(size)]
    return [student_example(world, rng, rng.choice(personas), kind) for _ in range(size)]
