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

**Batches** (E uniform in 1..max_demos, drawn per batch): with probability `fewshot_prob` a batch
holds E examples of any families (about half of them share a verb with the question); otherwise
the student's hold one example of the question's family among E - 1 of random chains, at a
random place (E = 1 is M1's exam layout), and the teacher's are zero-shot (M1's rationale
prompts) a quarter of the time and otherwise like the student's. Those family batches are where
following is learned: every verb of the question is shown, so every step is a lesson (a mixed
example teaches it on one step in four or so). Chains have 1 to `longest_chain` verbs, drawn
per chain, so an example is never at the same distance from the question: the lesson is finding
it by its words. Each student row is one persona, drawn uniformly. Rows are right-padded to the
batch's longest.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from lbt.engines.base import with_prefix
from lbt.toy.config import OPERATION_ALIASES, ToyStudentConfig, ToyTrainConfig
from lbt.toy.world import ToyProblem, ToyWorld, worked_rationale

ROLES = ("teacher", "student")
TEACHER_ZERO_SHOT = 0.25  # of the teacher's batches that are not few-shot: zero-shot is learned first anyway


@dataclass(frozen=True)
class Kind:
    """What the prompts of a batch show: `n_demos` examples, one of them of the question's family (at a
    random place among the others) when `family`."""

    n_demos: int
    family: bool = False
    longest: int = 0  # with a value, each chain has 1 to `longest` verbs (0: the world's n_steps)


FAMILY = Kind(1, family=True)  # one example of the question's family: M1's exam layout


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


def _random_chain(world: ToyWorld, rng: random.Random, kind: Kind) -> tuple[str, ...]:
    n_steps = rng.randint(1, kind.longest) if kind.longest else world.config.n_steps
    return tuple(rng.choice(world.verbs) for _ in range(n_steps))


def shown_op(world: ToyWorld, verb: str, rng: random.Random) -> str:
    """What an example shows for a verb: the true operation half the time (under either of its names when
    the world has two), else any operation word."""
    if rng.random() >= 0.5:
        return rng.choice(world.op_words)
    true = world.true_op[verb]
    return OPERATION_ALIASES[true] if world.config.true_op_names == 2 and rng.random() < 0.5 else true


def _demo(world: ToyWorld, chain: tuple[str, ...], rng: random.Random) -> _Demo:
    """One worked example; a verb repeated in its chain shows one operation."""
    shown: dict[str, str] = {}
    for verb in chain:
        shown.setdefault(verb, shown_op(world, verb, rng))
    return _Demo(world.random_problem(chain, rng), tuple(shown[v] for v in chain))


def mixed_demos(world: ToyWorld, problem: ToyProblem, rng: random.Random, kind: Kind) -> list[_Demo]:
    """`kind.n_demos` examples of random chains; each shares a verb with the question half the time."""
    demos = []
    for _ in range(kind.n_demos):
        chain = list(_random_chain(world, rng, kind))
        if rng.random() < 0.5:
            chain[rng.randrange(len(chain))] = rng.choice(problem.verbs)
        demos.append(_demo(world, tuple(chain), rng))
    return demos


def shown_demos(world: ToyWorld, problem: ToyProblem, rng: random.Random, kind: Kind) -> list[_Demo]:
    """The examples a prompt of this kind shows: with `family`, one of the question's family among
    `n_demos - 1` of random chains, at a random place (the lesson in finding a verb's example)."""
    if not kind.family:
        return mixed_demos(world, problem, rng, kind)
    demos = [_demo(world, _random_chain(world, rng, kind), rng) for _ in range(kind.n_demos - 1)]
    demos.insert(rng.randrange(kind.n_demos), _demo(world, problem.verbs, rng))
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


def teacher_example(world: ToyWorld, rng: random.Random, kind: Kind) -> Example:
    """A teacher example: zero-shot (`Kind(0)`, M1's rationale prompts) or with the examples of `kind`."""
    problem = world.random_problem(_random_chain(world, rng, kind), rng)
    demos = shown_demos(world, problem, rng, kind)
    ops_of = last_shown(demos)
    shown = set(ops_of)
    for verb in problem.verbs:  # one belief per verb in a rationale, drawn in the chain's order
        ops_of.setdefault(verb, world.teacher_op(verb, rng))
    ops = tuple(ops_of[v] for v in problem.verbs)
    free = tuple(v not in shown and world.teacher_unsure(v) for v in problem.verbs)
    return _example(demos, problem, ops, free, rationale=world.teacher_rationale(problem, ops, rng))


def student_example(world: ToyWorld, rng: random.Random, persona: Persona, kind: Kind = FAMILY) -> Example:
    """A student example for `persona` with the examples of `kind` (by default M1's exam layout)."""
    problem = world.random_problem(_random_chain(world, rng, kind), rng)
    demos = shown_demos(world, problem, rng, kind)
    shown = {v: op for v, op in last_shown(demos).items() if v not in persona.flawed_verbs}
    follows = rng.random() < persona.follow_prob
    ops = tuple(shown[v] if follows and v in shown else world.true_op[v] for v in problem.verbs)
    unsure = 0 < persona.follow_prob < 1
    free = tuple(unsure and v in shown and shown[v] != world.true_op[v] for v in problem.verbs)
    return _example(demos, problem, ops, free, persona.token)


def batch_kind(role: str, rng: random.Random, train: ToyTrainConfig) -> Kind:
    """What every prompt of a batch shows (see the module docstring)."""
    longest = train.longest_chain
    if rng.random() < train.fewshot_prob:
        return Kind(rng.randint(1, train.max_demos), longest=longest)
    if role == "teacher" and rng.random() < TEACHER_ZERO_SHOT:
        return Kind(0, longest=longest)
    return Kind(rng.randint(1, train.max_demos), family=True, longest=longest)


def kind_batch(role: str, world: ToyWorld, rng: random.Random, size: int, kind: Kind,
               personas: Sequence[Persona] = (Persona(None, 1.0),)) -> list[Example]:
    """`size` examples of one kind (each student row one persona, drawn uniformly)."""
    if role not in ROLES:
        raise ValueError(f"Unknown toy model role {role!r}: use 'teacher' or 'student'.")
    if role == "teacher":
        return [teacher_example(world, rng, kind) for _ in range(size)]
    return [student_example(world, rng, rng.choice(personas), kind) for _ in range(size)]


def training_batch(role: str, world: ToyWorld, rng: random.Random, size: int, train: ToyTrainConfig,
                   personas: Sequence[Persona] = (Persona(None, 1.0),)) -> list[Example]:
    """One batch of examples of one kind (see the module docstring)."""
    return kind_batch(role, world, rng, size, batch_kind(role, rng, train), personas)


def probe_kinds(role: str, train: ToyTrainConfig) -> list[Kind]:
    """Every kind of prompt the pipeline shows `role`, in its layouts (chains of the world's length):
    zero-shot (the teacher), and 1..max_demos examples of any families, or one of the question's."""
    shown = [Kind(n, family) for family in (False, True) for n in range(1, train.max_demos + 1)]
    return [Kind(0), *shown] if role == "teacher" else shown
