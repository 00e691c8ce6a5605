"""Reading the final answer out of a completion."""

from __future__ import annotations

import pytest

from lbt.tasks.math.extract import extract_answer, last_boxed_content, strip_math_delimiters


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
        # markdown bold around the block's answer (chat models write it)
        ("[[Final Answer]]: **$5$**", "5"),
        ("[[Final Answer]]:\n**5**", "5"),
        ("[[Final Answer]]:\n**$\\frac{1}{2}$**.", "\\frac{1}{2}"),
        ("[[Final Answer]]:\n**$\\boxed{7}$**", "7"),
        ("[[Final Answer]]:\n__(1, 2)__", "(1, 2)"),
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


def test_last_boxed_content_and_delimiters() -> None:
    assert last_boxed_content("no box here") is None
    assert last_boxed_content("$\\boxed{}$ and $\\boxed{2}$") == "2"
    assert strip_math_delimiters("$$x+1$$.") == "x+1"
    assert strip_math_delimiters("\\(3\\),") == "3"
