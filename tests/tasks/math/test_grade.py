"""Grading: the three layers, batching, threads, and checks on the real gold answers.

The real-data tests read ../shared/datasets (skipped when absent).
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest

from lbt.tasks.math import MathGrader, clean_answer, group_answers, normalize_answer, quick_verdict
from lbt.tasks.math.data import MATH500_FILE, MATH_FILE
from lbt.tasks.math.extract import extract_answer, last_boxed_content
from lbt.tasks.math.numbers import plain_number
from lbt.tasks.data import read_jsonl

from .conftest import DATA_DIR, NO_DATA

needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=NO_DATA)


# gold ⟶ prediction ⟶ equivalent? (one case a line; "None" is no answer; text after "  #" explains)
EQUIVALENCE_CASES = r"""
\frac12 ⟶ 0.5 ⟶ yes
\frac{1}{2} ⟶ \dfrac{1}{2} ⟶ yes
\frac13 ⟶ 0.333333 ⟶ yes  # math-verify's 6-decimal rule
\frac13 ⟶ 0.33 ⟶ no
3 ⟶ 3.0 ⟶ yes
1000 ⟶ 1,000 ⟶ yes
5\sqrt{2} ⟶ \sqrt{50} ⟶ yes
(3,\frac{\pi}{2}) ⟶ \left( 3, \frac{\pi}{2} \right) ⟶ yes
\text{Evelyn} ⟶ Evelyn ⟶ yes
x^2+7x+10 ⟶ (x+5)(x+2) ⟶ yes
[2,5) ⟶ [2,5] ⟶ no
10_5 ⟶ 10 ⟶ no  # math-verify reads 10_5 as 10; base numerals compare as strings
1011_2 ⟶ 1011_{2} ⟶ yes
7 ⟶ 8 ⟶ no
7 ⟶ None ⟶ no
7 ⟶ <blank> ⟶ no
5 ⟶ 5 \text{ or } 12 ⟶ no  # an answer listing two candidates gets no credit, whichever comes first
5 ⟶ x = 5 \text{ or } x = 12 ⟶ no
5 ⟶ 5 \text{ and } 12 ⟶ no
12 ⟶ 5 \text{ or } 12 ⟶ no
5 ⟶ 5 \text{ (or } 12) ⟶ no
5 ⟶ 5 \text{ cm} ⟶ yes  # units written as `\text{ unit}` still go (real golds of MATH and MATH())
100\text{ square units} ⟶ 100 ⟶ yes
45 \text{ units}^2 ⟶ 45 ⟶ yes
5.4 \text{ cents} ⟶ 5.4 ⟶ yes
"""


def _cases(text: str) -> list[tuple[str, str | None, bool]]:
    cases = []
    for line in text.strip().splitlines():
        gold, pred, equal = (part.strip() for part in line.split("  #")[0].split("⟶"))
        pred = {"None": None, "<blank>": "   "}.get(pred, pred)
        cases.append((gold, pred, equal == "yes"))
    return cases


@pytest.mark.parametrize(("gold", "pred", "equal"), _cases(EQUIVALENCE_CASES))
def test_is_equivalent(grader: MathGrader, gold: str, pred: str | None, equal: bool) -> None:
    """Includes hedged answers that list two candidates: they get no credit; units still go."""
    assert grader.is_equivalent(gold, pred) is equal


MATRIX = "\\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}"


def test_a_trailing_period_is_cleaned_on_every_path(grader: MathGrader) -> None:
    # math-verify reads `\begin{pmatrix}...\end{pmatrix}.` as its last number, -1
    assert clean_answer(f" {MATRIX}. ") == MATRIX and clean_answer("1, 2, \\ldots") == "1, 2, \\ldots"
    assert clean_answer("5\\,") == "5\\," and clean_answer("...") == "..."
    assert grader.grade_many([f"{MATRIX}.", f"{MATRIX}.", "-1", MATRIX], ["-1", MATRIX, f"{MATRIX}.", f"{MATRIX}."]) == [
        False, True, False, True,
    ]
    assert not grader.verify_with_math_verify(f"{MATRIX}.", "-1")
    assert grader.describe_all([f"{MATRIX}."]) == {f"{MATRIX}.": ("collection", "2:-1|2")}
    labels = group_answers(grader, [f"{MATRIX}.", MATRIX, "-1", "-1"])
    assert labels[0] == labels[1] == MATRIX and labels[2] == labels[3] == "-1"
    assert not grader.grade_many(["7"], ["."])[0]


def test_grade_many_matches_single_calls_and_checks_lengths(grader: MathGrader) -> None:
    golds = ["\\frac12", "\\frac12", "7", "7"]
    preds = ["0.5", "2", None, "7.0"]
    expected = [True, False, False, True]
    assert grader.grade_many(golds, preds) == [grader.is_equivalent(g, p) for g, p in zip(golds, preds)] == expected
    with pytest.raises(ValueError, match="as many golds as preds"):
        grader.grade_many(["1"], [])


def test_plain_number_fast_path_agrees_with_math_verify(grader: MathGrader) -> None:
    golds = ["\\frac{1}{3}", "2", "-\\frac{7}{4}", "0.25", "1000000", "\\frac{22}{7}", "2.000001"]
    preds = ["0.333333", "0.3333333", "2.0", "2.000001", "-1.75", "\\frac{1}{4}", "1000000.4", "3.142857", "2"]
    for gold in golds:
        for pred in preds:
            quick = quick_verdict(gold, pred)
            assert quick is not None
            assert quick == grader.verify_with_math_verify(gold, pred), (gold, pred)


def test_grading_is_safe_in_threads(grader: MathGrader) -> None:
    pairs = [("\\frac12", "0.5"), ("x^2-1", "(x-1)(x+1)"), ("(1,2)", "(2,1)"), ("5", "6")] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(lambda pair: grader.is_equivalent(*pair), pairs))
    assert verdicts == [True, True, False, False] * 3


def test_a_grader_owns_its_workers_and_memos() -> None:
    with MathGrader(workers=1, timeout_s=3.0) as first, MathGrader(workers=1, timeout_s=3.0) as second:
        assert first.is_equivalent("x^2-1", "(x-1)(x+1)")
        assert first.stats() == {"workers": 1, "timeout_s": 3.0, "timeouts": 0}
        assert ("x^2-1", "(x-1)(x+1)") in first.verdicts and not second.verdicts
        assert first.pool.pids() and not second.pool.pids()
    assert not first.pool.pids()


# -- real data ----------------------------------------------------------------------------------

# Answers of different problems that math-verify judges equal although their normal forms and
# plain-number values differ, with why that is acceptable.
CROSS_PROBLEM_EQUALS: dict[tuple[str, str], str] = {
    ("3:1", "x = 3"): "math-verify reads the ratio 3:1 as the number 3",
}


@needs_data
def test_tp_golds_agree_with_an_independent_source(problems: pl.DataFrame, grader: MathGrader) -> None:
    """A TP's gold is MATH500's `answer` field; the other source for the same problem is the
    last box of its solution in the MATH test set (a different file; both stem from the same
    MATH solution, so this checks that the files agree and that the right field was read, not
    that the answers are mathematically right)."""
    math_test = {r["unique_id"]: r for r in read_jsonl(DATA_DIR / MATH_FILE)}
    tps = problems.filter(pl.col("role") == "tp")
    golds = tps["answer"].to_list()
    boxed = [last_boxed_content(math_test[i]["solution"]) for i in tps["problem_id"]]
    assert len(golds) == 181 and all(grader.grade_many(golds, boxed))
    math500 = read_jsonl(DATA_DIR / MATH500_FILE)  # and all 500 MATH500 records, not only the TPs
    boxed_all = [extract_answer(math_test[r["unique_id"]]["solution"]) for r in math500]
    assert all(grader.grade_many([r["answer"] for r in math500], boxed_all))


@needs_data
def test_training_golds_have_no_independent_source(problems: pl.DataFrame) -> None:
    """Training golds come from MATH test-set solutions; MATH500, the only other source, holds
    none of those problems (training ids are the snapshot ids outside MATH500)."""
    math500_ids = {r["unique_id"] for r in read_jsonl(DATA_DIR / MATH500_FILE)}
    train_ids = set(problems.filter(pl.col("role") == "train")["problem_id"])
    assert len(train_ids) == 1564 and not train_ids & math500_ids


@needs_data
def test_boxed_golds_read_back_from_their_solutions_grade_as_correct(
    problems: pl.DataFrame, grader: MathGrader
) -> None:
    """A data-extraction and grading-reflexivity check, not an independent check of the golds:
    for training problems and variants the gold IS its solution's last box, so reading the
    solution again with `extract_answer` and grading it against the gold must say correct."""
    rows = problems.filter(pl.col("role") != "tp")
    golds = rows["answer"].to_list()
    assert golds == [last_boxed_content(s) for s in rows["solution"]]
    read_back = [extract_answer(s, last_number_fallback=False) for s in rows["solution"]]
    failures = [(i, g, b) for i, g, b, ok in zip(rows["problem_id"], golds, read_back, grader.grade_many(golds, read_back)) if not ok]
    assert failures == []


@needs_data
def test_the_real_gold_with_a_trailing_period(problems: pl.DataFrame, grader: MathGrader) -> None:
    gold = problems.filter(pl.col("problem_id") == "Oct-2023:test/prealgebra/1243.json")["answer"].item()
    assert gold == "6."  # the only real gold that ends in a period
    assert grader.grade_many([gold] * 4, ["6", "6.0", "7", "-1"]) == [True, True, False, False]
    assert grader.verify_with_math_verify(gold, "6") and not grader.verify_with_math_verify(gold, "7")


@needs_data
def test_math_verify_alone_reads_every_gold_as_itself(problems: pl.DataFrame, grader: MathGrader) -> None:
    golds = sorted(set(problems["answer"].to_list()))
    verdicts = grader.pool.run("verify", [(g, g) for g in golds], on_timeout=False)
    assert [g for g, ok in zip(golds, verdicts) if not ok] == []


@needs_data
def test_golds_of_different_problems_are_different_unless_truly_equal(
    problems: pl.DataFrame, grader: MathGrader
) -> None:
    golds = sorted(set(problems["answer"].to_list()))
    rng = random.Random(0)
    pairs = [(g, o) for g in golds for o in rng.sample(golds, 6) if o != g]
    verdicts = grader.grade_many([g for g, _ in pairs], [o for _, o in pairs])
    unexplained = [pair for pair, same in zip(pairs, verdicts) if same and not same_value(*pair)]
    assert set(unexplained) <= CROSS_PROBLEM_EQUALS.keys(), unexplained
    assert sum(verdicts) < 0.01 * len(pairs)


def same_value(a: str, b: str) -> bool:
    """Equal normal forms, or plain numbers of the same value."""
    na, nb = normalize_answer(a), normalize_answer(b)
    if na == nb:
        return True
    va, vb = plain_number(na), plain_number(nb)
    return va is not None and vb is not None and va.value == vb.value
