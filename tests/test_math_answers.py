"""Answer extraction, normalisation, grading and grouping for the math task.

The real-data tests read ../shared/datasets (skipped when absent): every gold answer of
MATH500 and MATH() must be judged equivalent to the \\boxed{} content of its own solution, and
answers of different problems must be judged different unless they are truly equal.
"""

from __future__ import annotations

import json
import random
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest

from lbt.tasks import math_answers as ma
from lbt.tasks.math_answers import extract_answer, grade_many, group_answers, is_equivalent, normalize_answer

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"real datasets not found at {DATA_DIR}")


# -- extraction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So x = 3.\n\n[[Final Answer]]:\n$\\frac{1}{2}$\n", "\\frac{1}{2}"),
        ("[[Final Answer]]: $5$.", "5"),
        ("[[Final Answer]]:\n'''\n$(1, 2)$\n'''", "(1, 2)"),
        ("[[Final Answer]]:\n$\\boxed{7}$", "7"),
        (
            "[[Final Answer]]:\n$$\n\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}\n$$\nmore text",
            "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
        ),
        ("[[Final Answer]]:\n\\[ x^2 + 1 \\]", "x^2 + 1"),
        # the block wins over an earlier box; the first block wins over a later one
        ("we had $\\boxed{4}$ first\n[[Final Answer]]:\n$5$", "5"),
        ("[[Final Answer]]:\n$5$\n\n[[Final Answer]]:\n$6$", "5"),
        # an empty block or the template's placeholder falls through to the next rule
        ("so $\\boxed{9}$\n[[Final Answer]]:\n", "9"),
        ("[[Final Answer]]:\n$ANSWER$\nthe answer is 8", "8"),
        # last balanced box; \fbox; `\boxed 5`; escaped braces inside
        ("$\\boxed{1}$ then $\\boxed{\\frac{2}{3}}$", "\\frac{2}{3}"),
        ("\\fbox{12}", "12"),
        ("so it is $\\boxed 5$", "5"),
        ("$\\boxed{\\{1, 2\\}}$", "\\{1, 2\\}"),
        ("$\\boxed{3}$ and a cut-off $\\boxed{\\frac{1}{", "3"),
        # fallbacks
        ("Thus the answer is $x = 7$. Done.", "x = 7"),
        ("The final answer is 42", "42"),
        ("We count 3 apples and then 1,024 pears", "1024"),
        ("", None),
        ("   ", None),
        ("no digits at all", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_last_number_fallback_can_be_switched_off() -> None:
    assert extract_answer("We count 3 apples", last_number_fallback=False) is None


# -- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("\\frac12", "\\frac{1}{2}"),
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("0.5", "\\frac{1}{2}"),
        (".5", "\\frac{1}{2}"),
        ("1/2", "\\frac{1}{2}"),
        ("\\frac1{72}", "\\frac{1}{72}"),
        ("x = 5", "5"),
        ("5 \\text{ cm}", "5"),
        ("10^\\circ", "10"),
        ("50\\%", "50"),
        ("\\$32", "32"),
        ("\\sqrt3", "\\sqrt{3}"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
        ("\\boxed{7}", "7"),
    ],
)
def test_normalize_answer(raw: str, normal: str) -> None:
    assert normalize_answer(raw) == normal


# -- grading ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "pred", "equal"),
    [
        ("\\frac12", "0.5", True),
        ("\\frac{1}{2}", "\\dfrac{1}{2}", True),
        ("\\frac13", "0.333333", True),  # math-verify's 6-decimal rule
        ("\\frac13", "0.33", False),
        ("3", "3.0", True),
        ("1000", "1,000", True),
        ("5\\sqrt{2}", "\\sqrt{50}", True),
        ("(3,\\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
        ("\\text{Evelyn}", "Evelyn", True),
        ("x^2+7x+10", "(x+5)(x+2)", True),
        ("[2,5)", "[2,5]", False),
        ("10_5", "10", False),  # math-verify reads 10_5 as 10; base numerals compare as strings
        ("1011_2", "1011_{2}", True),
        ("7", "8", False),
        ("7", None, False),
        ("7", "   ", False),
    ],
)
def test_is_equivalent(gold: str, pred: str | None, equal: bool) -> None:
    assert is_equivalent(gold, pred) is equal


def test_grade_many_matches_single_calls_and_checks_lengths() -> None:
    golds = ["\\frac12", "\\frac12", "7", "7"]
    preds = ["0.5", "2", None, "7.0"]
    assert grade_many(golds, preds) == [is_equivalent(g, p) for g, p in zip(golds, preds)] == [True, False, False, True]
    with pytest.raises(ValueError, match="as many golds as preds"):
        grade_many(["1"], [])


def test_plain_number_fast_path_agrees_with_math_verify() -> None:
    golds = ["\\frac{1}{3}", "2", "-\\frac{7}{4}", "0.25", "1000000", "\\frac{22}{7}", "2.000001"]
    preds = ["0.333333", "0.3333333", "2.0", "2.000001", "-1.75", "\\frac{1}{4}", "1000000.4", "3.142857", "2"]
    for gold in golds:
        for pred in preds:
            quick = ma._quick_verdict(gold, pred)
            assert quick is not None
            assert quick == ma.verify_with_math_verify(gold, pred), (gold, pred)


def test_grading_is_safe_in_threads() -> None:
    pairs = [("\\frac12", "0.5"), ("x^2-1", "(x-1)(x+1)"), ("(1,2)", "(2,1)"), ("5", "6")] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(lambda pair: is_equivalent(*pair), pairs))
    assert verdicts == [True, True, False, False] * 3


def test_a_worker_that_overruns_its_deadline_is_replaced(tmp_path: Path) -> None:
    fake_worker = tmp_path / "fake_worker.py"
    fake_worker.write_text(
        textwrap.dedent(
            """
            import json, sys, time
            print(json.dumps("ready"), flush=True)
            for line in sys.stdin:
                for item in json.loads(line)["items"]:
                    if item == "slow":
                        time.sleep(60)
                    print(json.dumps(item.upper()), flush=True)
            """
        )
    )
    pool = ma._VerifierPool(n_workers=1, timeout_s=0.5, command=[sys.executable, str(fake_worker)])
    try:
        start = time.monotonic()
        assert pool.run("describe", ["a", "slow", "b"], on_timeout="TIMEOUT") == ["A", "TIMEOUT", "B"]
        assert time.monotonic() - start < 30
        assert pool.timeouts == 1
    finally:
        pool.close()


# -- grouping -----------------------------------------------------------------------------------


def test_half_forms_share_one_class_and_exact_mode_keeps_them_apart() -> None:
    answers = ["\\frac12", "0.5", "\\dfrac{1}{2}", None, "1/2", "2"]
    labels = group_answers(answers, "equivalence")
    assert len({labels[i] for i in (0, 1, 2, 4)}) == 1
    assert labels[3] is None and labels[5] not in (labels[0], None)
    exact = group_answers(answers, "exact")
    assert exact == ["\\frac12", "0.5", "\\dfrac{1}{2}", None, "1/2", "2"]


def test_grouping_labels_do_not_depend_on_input_order() -> None:
    answers = ["0.5", "\\frac12", "\\frac12", "x+1", "1+x", "(1,2)", "\\{1,2\\}", "3", None]
    labels = dict(zip(answers, group_answers(answers)))
    reversed_labels = dict(zip(answers[::-1], group_answers(answers[::-1])))
    assert labels == reversed_labels
    assert labels["0.5"] == labels["\\frac12"] == "\\frac12"  # the most frequent form labels its group
    assert labels["x+1"] == labels["1+x"]


def test_grouping_needs_math_verify_both_ways() -> None:
    # verify(gold="0", pred="x - 3z = 0") is True (math-verify reads the equation's right side),
    # but not the other way round: they must not share a class.
    labels = group_answers(["0", "x - 3z = 0"])
    assert labels[0] != labels[1]


def test_grouping_scopes_are_independent() -> None:
    labels = group_answers(["0.5", "\\frac12", "0.5", "\\frac12"], scopes=["a", "a", "b", "b"])
    assert labels[0] == labels[1] and labels[2] == labels[3]
    with pytest.raises(ValueError, match="one scope per answer"):
        group_answers(["1"], scopes=[])


# -- real data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def problems() -> pl.DataFrame:
    if not DATA_DIR.is_dir():
        pytest.skip(f"real datasets not found at {DATA_DIR}")
    from lbt.tasks.math import MathTask

    return MathTask(DATA_DIR).load_problems()


# Gold answers that are NOT judged equivalent to the \boxed{} content of their own solution.
# Empty: every MATH500 and MATH() gold passes.
GOLD_SELF_FAILURES: dict[str, str] = {}

# Answers of different problems that math-verify judges equal although their normal forms and
# plain-number values differ, with why that is acceptable.
CROSS_PROBLEM_EQUALS: dict[tuple[str, str], str] = {
    ("3:1", "x = 3"): "math-verify reads the ratio 3:1 as the number 3",
}


@needs_data
def test_every_gold_is_equivalent_to_its_own_boxed_answer(problems: pl.DataFrame) -> None:
    golds = problems["answer"].to_list()
    boxed = [extract_answer(s, last_number_fallback=False) for s in problems["solution"].to_list()]
    verdicts = grade_many(golds, boxed)
    ids = problems["problem_id"].to_list()
    failures = {pid: f"{g!r} vs {b!r}" for pid, g, b, ok in zip(ids, golds, boxed, verdicts) if not ok}
    assert failures.keys() == GOLD_SELF_FAILURES.keys(), failures


@needs_data
def test_math500_golds_match_the_math_test_solutions() -> None:
    math500 = [json.loads(line) for line in (DATA_DIR / "math500" / "test.jsonl").open()]
    math_test = {r["unique_id"]: r for r in map(json.loads, (DATA_DIR / "MATH" / "test.jsonl").open())}
    golds = [r["answer"] for r in math500]
    boxed = [extract_answer(math_test[r["unique_id"]]["solution"]) for r in math500]
    assert all(grade_many(golds, boxed))


@needs_data
def test_math_verify_alone_reads_every_gold_as_itself(problems: pl.DataFrame) -> None:
    golds = sorted(set(problems["answer"].to_list()))
    verdicts = ma._pool().run("verify", [(g, g) for g in golds], on_timeout=False)
    assert [g for g, ok in zip(golds, verdicts) if not ok] == []


@needs_data
def test_golds_of_different_problems_are_different_unless_truly_equal(problems: pl.DataFrame) -> None:
    golds = sorted(set(problems["answer"].to_list()))
    rng = random.Random(0)
    pairs = [(g, o) for g in golds for o in rng.sample(golds, 6) if o != g]
    verdicts = grade_many([g for g, _ in pairs], [o for _, o in pairs])
    unexplained = [pair for pair, same in zip(pairs, verdicts) if same and not _same_value(*pair)]
    assert set(unexplained) <= CROSS_PROBLEM_EQUALS.keys(), unexplained
    assert sum(verdicts) < 0.01 * len(pairs)


@needs_data
def test_grouping_real_golds_merges_only_equal_values(problems: pl.DataFrame) -> None:
    tp_golds = problems.filter(pl.col("role") == "tp")["answer"].to_list()
    rewritten = [g.replace("\\frac", "\\dfrac") for g in tp_golds] + [f" {g} " for g in tp_golds]
    answers = tp_golds + rewritten
    labels = group_answers(answers)
    n = len(tp_golds)
    for i, gold in enumerate(tp_golds):
        assert labels[i] == labels[n + i] == labels[2 * n + i], gold
    for i, first in enumerate(tp_golds):
        for j in range(i + 1, n):
            if labels[i] == labels[j]:
                assert _same_value(first, tp_golds[j]) or (first, tp_golds[j]) in CROSS_PROBLEM_EQUALS


def _same_value(a: str, b: str) -> bool:
    """Equal normal forms, or plain numbers of the same value."""
    na, nb = normalize_answer(a), normalize_answer(b)
    if na == nb:
        return True
    va, vb = ma.plain_number(na), ma.plain_number(nb)
    return va is not None and vb is not None and va.value == vb.value
