"""Plain numbers (layer 2 of grading): integers, decimals and integer fractions by value.

They are compared in Python with math-verify's rule (exactly, or rounded to 6 decimals when one
side is a decimal). Numerals with a base subscript (`1011_2`) are compared as strings, since
math-verify reads `10_5` as 10.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_INTEGER = re.compile(r"[-+]?\d+")
_DECIMAL = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)")
_FRACTION = re.compile(r"([-+]?)\\frac\{([-+]?\d+)\}\{([-+]?\d+)\}")


@dataclass(frozen=True)
class PlainNumber:
    """A number's exact value, and whether it was written as a decimal."""

    value: Fraction
    is_decimal: bool


def plain_number(normalised: str) -> PlainNumber | None:
    """The value of a normalised answer that is an integer, a decimal or an integer fraction."""
    if _INTEGER.fullmatch(normalised):
        return PlainNumber(Fraction(int(normalised)), False)
    if _DECIMAL.fullmatch(normalised):
        return PlainNumber(Fraction(normalised), True)
    match = _FRACTION.fullmatch(normalised)
    if match and int(match.group(3)) != 0:
        sign = -1 if match.group(1) == "-" else 1
        return PlainNumber(sign * Fraction(int(match.group(2)), int(match.group(3))), False)
    return None


def numbers_equal(a: PlainNumber, b: PlainNumber) -> bool:
    """math-verify's rule: decimals are compared rounded to 6 places, the rest exactly."""
    if a.is_decimal or b.is_decimal:
        return round(a.value, 6) == round(b.value, 6)
    return a.value == b.value


def number_key(value: Fraction) -> str:
    """The grouping key of a numeric value (10 significant digits, shared with math-verify's)."""
    return float_key(float(value))


def float_key(value: float) -> str:
    """10 significant digits (`-0.0` written as `0`)."""
    return f"{value + 0.0:.10g}"


BASE_NUMERAL = re.compile(r"(\w+)_\{?(\d+)\}?")


def base_numeral_key(normalised: str) -> str:
    """`1011_{2}` and `1011_2` → `1011_2`; anything else unchanged."""
    match = BASE_NUMERAL.fullmatch(normalised)
    return f"{match.group(1)}_{match.group(2)}" if match else normalised
