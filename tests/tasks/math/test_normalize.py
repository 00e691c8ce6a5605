"""The classic MATH normalisation."""

from __future__ import annotations

import pytest

from lbt.tasks.math.normalize import normalize_answer


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
        ("216258 \\text{ units}^2", "216258"),
        ("5 \\text{ or } 12", "5\\text{or}12"),  # two answers: the second one is not a unit
        ("5 \\text{ and } 12", "5\\text{and}12"),
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
