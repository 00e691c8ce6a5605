"""Time math grading and grouping at the size of the paper's M1 run.

A synthetic table of answers shaped like M1's: for each of the 181 MATH500 teaching problems,
256 teaching answers (TAs, graded against the TP's gold and grouped per TP for voting) and
9 exam answers per rationale (3 exam problems x 3 repetitions, graded against the EP's gold):
~46k TAs and ~417k exam answers. Answers are drawn from the real gold answers: equivalent
rewritings (`\\frac12` / `0.5` / `\\dfrac{1}{2}`, `x = 5`, `5.0`, spaces, `\\left(`), a per-problem
pool of plausible wrong answers (gold off by one, doubled, negated, a digit changed, another
problem's gold), fresh one-off wrong answers, and unparseable completions (None).

    python scripts/bench_math_grading.py [--raw-dir ../shared/datasets] [--workers 2]

Prints the figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

from lbt.tasks.math import MathGrader, group_answers, normalize_answer
from lbt.tasks.math.data import load_problems
from lbt.tasks.math.numbers import plain_number

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Table:
    ta_golds: list[str]
    ta_answers: list[str | None]
    ta_scopes: list[str]
    exam_golds: list[str]
    exam_answers: list[str | None]
    exam_scopes: list[str]


def equivalent_forms(gold: str) -> list[str]:
    """Ways a model may write an answer equivalent to `gold`."""
    forms = {gold, gold.replace(" ", ""), f" {gold} "} | ({f"x = {gold}"} if "=" not in gold else set())
    number = plain_number(normalize_answer(gold))
    if number is not None:
        value = number.value
        forms |= _number_forms(value)
    if "\\frac" in gold:
        forms |= {gold.replace("\\frac", "\\dfrac"), gold.replace("\\frac", "\\tfrac")}
    if gold.startswith("(") and gold.endswith(")"):
        forms.add("\\left" + gold[:-1] + "\\right)")
    return sorted(forms)


def _number_forms(value: Fraction) -> set[str]:
    forms = set()
    if value.denominator == 1:
        n = value.numerator
        forms |= {str(n), f"{n}.0", f"{n:,}".replace(",", "{,}") if abs(n) >= 1000 else str(n)}
    else:
        sign = "-" if value < 0 else ""
        p, q = abs(value.numerator), value.denominator
        forms |= {f"{sign}\\frac{{{p}}}{{{q}}}", f"{sign}\\dfrac{{{p}}}{{{q}}}", f"{sign}{p}/{q}"}
        if p < 10 and q < 10:
            forms.add(f"{sign}\\frac{p}{q}")
        if 10**6 % q == 0 or all(f in (2, 5) for f in _prime_factors(q)):
            forms.add(str(float(value)))
    return forms


def _prime_factors(n: int) -> list[int]:
    factors, d = [], 2
    while d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 1
    return factors + ([n] if n > 1 else [])


def wrong_answers(gold: str, other_golds: list[str], rng: random.Random, k: int = 8) -> list[str]:
    """A pool of plausible wrong answers for a problem."""
    pool: set[str] = set()
    number = plain_number(normalize_answer(gold))
    if number is not None:
        v = number.value
        for w in (v + 1, v - 1, 2 * v, -v, v / 2 if v else Fraction(1, 2)):
            pool.add(_render_number(w))
    pool |= {mutate_digit(gold, rng) for _ in range(4)}
    pool |= set(rng.sample(other_golds, 3))
    pool.discard(gold)
    return sorted(pool)[:k]


def _render_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def mutate_digit(answer: str, rng: random.Random) -> str:
    digits = [m.start() for m in re.finditer(r"\d", answer)]
    if not digits:
        return answer + " + 1"
    i = rng.choice(digits)
    return answer[:i] + str((int(answer[i]) + rng.randint(1, 9)) % 10) + answer[i + 1 :]


def fresh_wrong(gold: str, rng: random.Random) -> str:
    """A one-off wrong answer (a sampled model rarely repeats these)."""
    if rng.random() < 0.5:
        return str(rng.randint(-50, 5000))
    return mutate_digit(mutate_digit(gold, rng), rng)


def draw(gold: str, forms: list[str], pool: list[str], p_correct: float, rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.06:
        return None
    if roll < 0.06 + 0.94 * p_correct:
        return rng.choice(forms) if rng.random() < 0.3 else gold
    return fresh_wrong(gold, rng) if rng.random() < 0.2 else rng.choice(pool)


def build_table(raw_dir: Path, n_tps: int, n_rationales: int, seed: int) -> Table:
    problems = load_problems(raw_dir)
    tps = problems.filter(problems["role"] == "tp").head(n_tps)
    eps = problems.filter(problems["role"] == "ep")
    all_golds = problems["answer"].to_list()
    rng = random.Random(seed)
    table = Table([], [], [], [], [], [])
    for tp in tps.iter_rows(named=True):
        ep_rows = eps.filter(eps["family_id"] == tp["family_id"]).to_dicts()
        difficulty = rng.uniform(0.1, 0.9)
        tp_forms, tp_pool = equivalent_forms(tp["answer"]), wrong_answers(tp["answer"], all_golds, rng)
        ep_kit = [
            (e["problem_id"], e["answer"], equivalent_forms(e["answer"]), wrong_answers(e["answer"], all_golds, rng))
            for e in ep_rows
        ]
        for _ in range(n_rationales):
            ta = draw(tp["answer"], tp_forms, tp_pool, difficulty, rng)
            table.ta_golds.append(tp["answer"])
            table.ta_answers.append(ta)
            table.ta_scopes.append(tp["problem_id"])
            p_exam = 0.75 if ta is not None and ta == tp["answer"] else 0.35
            for ep_id, ep_gold, forms, pool in ep_kit:
                for _ in range(3):
                    table.exam_golds.append(ep_gold)
                    table.exam_answers.append(draw(ep_gold, forms, pool, p_exam, rng))
                    table.exam_scopes.append(ep_id)
    return table


def timed(label: str, action: Callable[[], Any], figures: dict[str, float]) -> Any:
    start = time.perf_counter()
    result = action()
    figures[label] = time.perf_counter() - start
    return result


def distinct_pairs(golds: list[str], answers: list[str | None]) -> int:
    return len({(g, a) for g, a in zip(golds, answers) if a is not None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw-dir", type=Path, default=REPO_ROOT.parent / "shared" / "datasets")
    parser.add_argument("--tps", type=int, default=181)
    parser.add_argument("--rationales", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="math-verify worker processes")
    args = parser.parse_args()
    with MathGrader(workers=args.workers) as grader:
        run(args, grader)


def run(args: argparse.Namespace, grader: MathGrader) -> None:

    built: dict[str, float] = {}
    t = timed("build table", lambda: build_table(args.raw_dir, args.tps, args.rationales, args.seed), built)
    print(f"TAs: {len(t.ta_answers):,} ({distinct_pairs(t.ta_golds, t.ta_answers):,} distinct (gold, answer) pairs)")
    print(f"exam answers: {len(t.exam_answers):,} ({distinct_pairs(t.exam_golds, t.exam_answers):,} distinct pairs)")

    m1: dict[str, float] = {}  # what M1's post-processing needs, from cold caches and workers
    ta_correct = timed("grade TAs (starts the workers)", lambda: grader.grade_many(t.ta_golds, t.ta_answers), m1)
    exam_correct = timed("grade exam answers", lambda: grader.grade_many(t.exam_golds, t.exam_answers), m1)
    ta_groups = timed("group TAs per TP", lambda: group_answers(grader, t.ta_answers, scopes=t.ta_scopes), m1)
    extra: dict[str, float] = {}
    exam_groups = timed(
        "group exam answers per EP", lambda: group_answers(grader, t.exam_answers, scopes=t.exam_scopes), extra
    )
    timed("group TAs per TP, exact mode", lambda: group_answers(grader, t.ta_answers, "exact"), extra)
    timed("grade exam answers again (memoised)", lambda: grader.grade_many(t.exam_golds, t.exam_answers), extra)

    width = max(len(k) for k in {**built, **m1, **extra}) + 2
    for label, seconds in {**built, **m1}.items():
        print(f"{label:<{width}}{seconds:8.2f} s")
    print(f"{'= M1 post-processing':<{width}}{sum(m1.values()):8.2f} s")
    for label, seconds in extra.items():
        print(f"{label:<{width}}{seconds:8.2f} s")
    ta_accuracy, exam_accuracy = sum(ta_correct) / len(ta_correct), sum(exam_correct) / len(exam_correct)
    print(f"TA accuracy {ta_accuracy:.3f}, exam accuracy {exam_accuracy:.3f}")
    ta_classes, exam_classes = len(set(zip(t.ta_scopes, ta_groups))), len(set(zip(t.exam_scopes, exam_groups)))
    print(f"TA classes {ta_classes:,} (None included), exam classes {exam_classes:,}")
    print(f"math-verify: {grader.stats()}")


if __name__ == "__main__":
    main()
