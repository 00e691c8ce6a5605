"""The toy world: a synthetic task with the structure of the paper's.

A problem applies a chain of made-up verbs to digits: `Q blip zork 3 7 5 R` means "blip 3 and
7, then zork the result with 5". Each verb stands for one digit operation (add, mul, max...
mod 10). A **family** is a verb chain; its **functional variants** are the same chain on other
digits. A worked rationale names the operation it uses at each step, `verb op a b result ;`:

    blip add 3 7 0 ; zork mul 0 5 0 ; A 0

so a student that reads it as an in-context example can follow the same procedure on a
variant. The teacher's knowledge is flawed on purpose: for a fraction of "bad" verbs it uses
a fixed wrong operation with probability `teacher_wrong_prob`. What the models learn from their
examples (and the student personas' flaws) is in `lbt.toy.curriculum`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import permutations
from typing import Sequence

from lbt.toy.config import MARKERS, OPERATION_ALIASES, OPERATION_NAMES, VERB_NAMES, ToyWorldConfig

OPERATIONS = {
    "add": lambda a, b: (a + b) % 10,
    "sub": lambda a, b: (a - b) % 10,
    "mul": lambda a, b: (a * b) % 10,
    "max": max,
    "min": min,
    "dif": lambda a, b: abs(a - b),
}
assert tuple(OPERATIONS) == OPERATION_NAMES
MEANING = {**{op: op for op in OPERATIONS}, **{alias: op for op, alias in OPERATION_ALIASES.items()}}
OP_WORDS = tuple(MEANING)  # every word a rationale may name an operation with
# A rationale's step is `verb op a b result ;` (STEP_WORDS words, the op at OP_OFFSET): each word is
# predicted from the word before it and at most two others (no separators between the operands).
STEP_WORDS, OP_OFFSET = 6, 1


@dataclass(frozen=True)
class ToyProblem:
    verbs: tuple[str, ...]
    digits: tuple[int, ...]

    @property
    def family_id(self) -> str:
        return "-".join(self.verbs)

    @property
    def question(self) -> str:
        return " ".join(["Q", *self.verbs, *map(str, self.digits)])


def parse_question(question: str) -> ToyProblem | None:
    words = question.split()
    if not words or words[0] != "Q":
        return None
    verbs = tuple(w for w in words[1:] if w in VERB_NAMES)
    digits = tuple(int(w) for w in words[1:] if w.isdigit())
    if len(digits) != len(verbs) + 1:
        return None
    return ToyProblem(verbs, digits)


def worked_rationale(problem: ToyProblem, ops: tuple[str, ...], offsets: list[int] | None = None) -> str:
    """The rationale that solves `problem` with the given operation at each step; `offsets` (one per
    step, mod 10) miscompute results, as an arithmetic slip does."""
    value, steps = problem.digits[0], []
    for k, (verb, op, digit) in enumerate(zip(problem.verbs, ops, problem.digits[1:])):
        result = (OPERATIONS[MEANING[op]](value, digit) + (offsets[k] if offsets else 0)) % 10
        steps.append(f"{verb} {op} {value} {digit} {result} ;")
        value = result
    return " ".join([*steps, "A", str(value)])


def agreement(op_a: str, op_b: str) -> int:
    """On how many of the 100 digit pairs two operations give the same digit."""
    return sum(OPERATIONS[op_a](a, b) == OPERATIONS[op_b](a, b) for a in range(10) for b in range(10))


def most_confusable(op: str) -> str:
    """The other operation that most often agrees with `op` (the first in OPERATIONS' order on ties)."""
    return max((o for o in OPERATIONS if o != op), key=lambda o: agreement(op, o))


def least_confusable(op: str) -> str:
    """The other operation that least often agrees with `op` (the first in OPERATIONS' order on ties)."""
    return min((o for o in OPERATIONS if o != op), key=lambda o: agreement(op, o))


def rationale_steps(text: str) -> list[tuple[str, str]]:
    """The (verb, operation word as written) of each well-formed step of a rationale, in order (others
    skipped); `MEANING` maps a word to its operation."""
    words = text.split()
    return [(words[i], words[i + OP_OFFSET]) for i in range(len(words) - STEP_WORDS + 1)
            if words[i + STEP_WORDS - 1] == ";" and words[i + OP_OFFSET] in MEANING]


class ToyWorld:
    """Verbs, their true operations, the teacher's flaws, and problem generation."""

    def __init__(self, config: ToyWorldConfig):
        self.config = config
        rng = random.Random(f"world-{config.seed}")
        self.verbs = list(VERB_NAMES[: config.n_verbs])
        ops = list(OPERATIONS)
        self.true_op = {v: ops[i % len(ops)] for i, v in enumerate(rng.sample(self.verbs, len(self.verbs)))}
        n_bad = round(config.bad_verb_fraction * len(self.verbs))
        bad = rng.sample(self.verbs, n_bad)
        self.wrong_op = {v: rng.choice([o for o in ops if o != self.true_op[v]]) for v in bad}
        if config.wrong_op != "random":
            pick = most_confusable if config.wrong_op == "confusable" else least_confusable
            self.wrong_op = {v: pick(self.true_op[v]) for v in bad}

    @property
    def op_words(self) -> tuple[str, ...]:
        """The operation words this world's rationales use (the aliases only with `true_op_names: 2`)."""
        return OP_WORDS if self.config.true_op_names == 2 else OPERATION_NAMES

    def vocabulary(self, personas: Sequence[str] = ()) -> list[str]:
        """Every word of the world, then the persona tokens."""
        return [*MARKERS, *map(str, range(10)), *OP_WORDS, *self.verbs, *personas]

    def families(self, n_eval: int, n_train: int, n_pool: int = 0) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        """(evaluation families, training families): disjoint verb chains (and `n_pool` more are
        kept for `pool_families`)."""
        chains = self._chains(n_eval + n_train + n_pool)
        return chains[:n_eval], chains[n_eval : n_eval + n_train]

    def pool_families(self, n_eval: int, n_train: int, n_pool: int) -> list[tuple[str, ...]]:
        """`n_pool` verb chains disjoint from `families(n_eval, n_train)`: a pool of other families."""
        return self._chains(n_eval + n_train + n_pool)[n_eval + n_train : n_eval + n_train + n_pool]

    def _chains(self, needed: int) -> list[tuple[str, ...]]:
        n_steps = self.config.n_steps
        chains = list(permutations(self.verbs, n_steps))
        random.Random(f"families-{self.config.seed}").shuffle(chains)
        if needed > len(chains):
            raise ValueError(
                f"toy.problems.n_tp + n_train_families + n_pool_families = {needed} exceeds the "
                f"{len(chains)} families of {len(self.verbs)} verbs in chains of {n_steps}: "
                "raise toy.world.n_verbs or toy.world.n_steps, or lower those counts."
            )
        return chains

    def random_problem(self, verbs: tuple[str, ...], rng: random.Random) -> ToyProblem:
        return ToyProblem(verbs, tuple(rng.randrange(10) for _ in range(len(verbs) + 1)))

    def variants(self, verbs: tuple[str, ...], n: int, rng: random.Random) -> list[ToyProblem]:
        """`n + 1` problems of one family with distinct digits (the first is the TP)."""
        seen: set[tuple[int, ...]] = set()
        out: list[ToyProblem] = []
        while len(out) < n + 1:
            p = self.random_problem(verbs, rng)
            if p.digits not in seen:
                seen.add(p.digits)
                out.append(p)
        return out

    def true_ops(self, problem: ToyProblem) -> tuple[str, ...]:
        return tuple(self.true_op[v] for v in problem.verbs)

    def answer(self, problem: ToyProblem) -> str:
        return worked_rationale(problem, self.true_ops(problem)).split()[-1]

    def teacher_rationale(self, problem: ToyProblem, ops: tuple[str, ...], rng: random.Random) -> str:
        """A rationale as the teacher writes it: each step's result miscomputed with probability
        `teacher_slip_prob` (no draw at all when it is 0, so the curriculum is unchanged)."""
        if self.config.teacher_slip_prob == 0:
            return worked_rationale(problem, ops)
        slips = [rng.random() < self.config.teacher_slip_prob for _ in ops]
        return worked_rationale(problem, ops, [rng.randrange(1, 10) if s else 0 for s in slips])

    def teacher_op(self, verb: str, rng: random.Random) -> str:
        """An operation word drawn from the teacher's flawed belief about `verb`: on a bad verb the wrong
        operation `teacher_wrong_prob` of the time, else the true one under one of its names."""
        if verb not in self.wrong_op:
            return self.true_op[verb]
        if rng.random() < self.config.teacher_wrong_prob:
            return self.wrong_op[verb]
        if self.config.true_op_names == 2 and rng.random() < 0.5:
            return OPERATION_ALIASES[self.true_op[verb]]
        return self.true_op[verb]

    def teacher_unsure(self, verb: str) -> bool:
        """Whether the teacher's operation word for `verb` (shown no example) is a random draw."""
        p = self.config.teacher_wrong_prob
        return verb in self.wrong_op and (0 < p < 1 or (p == 0 and self.config.true_op_names == 2))
