"""The toy world's problems as code. A problem is a chain of verbs, `Q blip zork`; its answer
is a Python function of the chain's digits, written in words the tiny models know:

    def solve ( x0 , x1 , x2 ) : blip = add ; zork = mul ; return zork ( blip ( x0 , x1 ) , x2 )

(valid Python: spaces between tokens, simple statements after the colon). The operations are
functions of the problem's preamble; a program names which operation each verb stands for, so
a teacher's wrong belief about a verb is wrong code, and tests on random digits catch it.
A **group** is a few chains over a small set of shared verbs: a TP's exam is the other chains
of its group, whose programs use some of the same verbs (so a TR teaches what they stand for).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import permutations
from typing import Sequence

from lbt.toy.code.config import ToyCodeParams
from lbt.toy.world import OPERATIONS, ToyWorld

ENTRY_POINT = "solve"
CODE_WORDS = ["def", ENTRY_POINT, "(", ")", ",", ":", "=", "return", "E", "assert", "candidate", "==", "error"]
PREAMBLE = "\n\n".join(f"def {name}(a, b):\n    return {body}" for name, body in {
    "add": "(a + b) % 10", "sub": "(a - b) % 10", "mul": "(a * b) % 10", "max": "a if a > b else b",
    "min": "a if a < b else b", "dif": "abs(a - b)"}.items()) + "\n"


@dataclass(frozen=True)
class CodeProblem:
    group: str
    verbs: tuple[str, ...]

    @property
    def problem_id(self) -> str:
        return f"{self.group}/{'-'.join(self.verbs)}"

    @property
    def question(self) -> str:
        return " ".join(["Q", *self.verbs])


def arguments(n_steps: int) -> list[str]:
    return [f"x{i}" for i in range(n_steps + 1)]


def program(verbs: tuple[str, ...], ops: tuple[str, ...]) -> str:
    """The function that applies `ops` along the chain, in the models' words."""
    args = arguments(len(verbs))
    value = args[0]
    for verb, arg in zip(verbs, args[1:]):
        value = f"{verb} ( {value} , {arg} )"
    binds = " ".join(f"{verb} = {op} ;" for verb, op in zip(verbs, ops))
    return f"def {ENTRY_POINT} ( {' , '.join(args)} ) : {binds} return {value}"


def run_chain(ops: tuple[str, ...], digits: tuple[int, ...]) -> int:
    value = digits[0]
    for op, digit in zip(ops, digits[1:]):
        value = OPERATIONS[op](value, digit)
    return value


def assert_snippet(digits: tuple[int, ...], expected: int) -> str:
    return f"assert candidate ( {' , '.join(map(str, digits))} ) == {expected}"


class ToyCodeWorld:
    """The toy world (verbs, true operations, the teacher's flaws) with groups, programs and tests."""

    def __init__(self, world: ToyWorld, config: ToyCodeParams):
        # a program names each operation by its one Python function: no second names here
        one_name = world.config.model_copy(update={"true_op_names": 1})
        self.world, self.config = ToyWorld(one_name), config
        if config.groups.group_verbs < world.config.n_steps:
            raise ValueError("toy_code.groups.group_verbs must be at least toy.world.n_steps (chains use distinct verbs).")

    def vocabulary(self, personas: Sequence[str] = ()) -> list[str]:
        words = [*self.world.vocabulary(personas), *CODE_WORDS, *arguments(self.world.config.n_steps)]
        return list(dict.fromkeys(words))

    def groups(self) -> list[list[CodeProblem]]:
        """`n_groups` groups of `group_size` distinct chains, each over `group_verbs` verbs."""
        g, n_steps = self.config.groups, self.world.config.n_steps
        rng = random.Random(f"code-groups-{g.seed}")
        chains_per_group = len(list(permutations(range(g.group_verbs), n_steps)))
        if g.group_size > chains_per_group or g.group_verbs > len(self.world.verbs):
            raise ValueError(f"toy_code.groups: {g.group_verbs} verbs give {chains_per_group} chains of {n_steps}, "
                             f"fewer than group_size {g.group_size} (or more verbs than toy.world.n_verbs): raise "
                             "group_verbs or lower group_size.")
        out = []
        for k in range(g.n_groups):
            chains = list(permutations(rng.sample(self.world.verbs, g.group_verbs), n_steps))
            out.append([CodeProblem(f"g{k:03d}", c) for c in rng.sample(chains, g.group_size)])
        return out

    def tests(self, problem: CodeProblem) -> tuple[list[str], list[str]]:
        """(visible, hidden) asserts on distinct random digit inputs, expected from the true chain."""
        t = self.config.tests
        rng = random.Random(f"code-tests-{self.config.groups.seed}-{problem.problem_id}")
        inputs = self.random_inputs(rng, len(problem.verbs), t.visible + t.hidden)
        truth = self.true_ops(problem.verbs)
        snippets = [assert_snippet(d, run_chain(truth, d)) for d in inputs]
        return snippets[: t.visible], snippets[t.visible :]

    @staticmethod
    def random_inputs(rng: random.Random, n_steps: int, count: int) -> list[tuple[int, ...]]:
        seen: dict[tuple[int, ...], None] = {}
        while len(seen) < min(count, 10 ** (n_steps + 1)):
            seen.setdefault(tuple(rng.randrange(10) for _ in range(n_steps + 1)))
        return list(seen)

    def true_ops(self, verbs: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.world.true_op[v] for v in verbs)

    def teacher_ops(self, verbs: tuple[str, ...], rng: random.Random) -> tuple[str, ...]:
        """Operations drawn from the teacher's flawed belief."""
        return tuple(self.world.teacher_op(v, rng) for v in verbs)

    def failing_test(self, verbs: tuple[str, ...], ops: tuple[str, ...], rng: random.Random,
                     tries: int = 50) -> str | None:
        """A test (random digits) that the program with `ops` fails, or None when none is found."""
        truth = self.true_ops(verbs)
        for digits in self.random_inputs(rng, len(verbs), tries):
            if run_chain(ops, digits) != run_chain(truth, digits):
                return assert_snippet(digits, run_chain(truth, digits))
        return None
