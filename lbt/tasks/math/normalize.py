"""The classic MATH answer normalisation (Hendrycks et al. 2021, in our own words).

Layer 1 of grading: equal normal forms mean equivalent answers. It is also the key of the
paper's grouping of answers.
"""

from __future__ import annotations

import re

from lbt.tasks.math.extract import BOX_COMMANDS, brace_group, last_boxed_content

_SPACING_COMMANDS = ("\\,", "\\;", "\\:", "\\ ", "\\!")


def normalize_answer(answer: str) -> str:
    """A canonical string for `answer`; equal canonical strings mean equivalent answers.

    Rules, in order: unwrap a whole-string `\\boxed{}`; drop line breaks and `\\!`; `\\\\` → `\\`;
    `\\tfrac`/`\\dfrac` → `\\frac`; drop `\\left`/`\\right`, degree marks, dollar signs, a trailing
    unit written as `\\text{ unit}` (not a second answer joined by "or"/"and"), and percent
    signs; `.5` → `0.5`; drop a short left-hand side (`x = 5` → `5`); `\\sqrt3` → `\\sqrt{3}`;
    drop spaces; `\\frac12` → `\\frac{1}{2}`; `0.5` → `\\frac{1}{2}`; `a/b` of integers →
    `\\frac{a}{b}`; drop a trailing period.
    """
    text = answer.strip()
    boxed = last_boxed_content(text) if text.startswith(BOX_COMMANDS) else None
    text = boxed if boxed is not None else text
    text = text.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    text = text.replace("tfrac", "frac").replace("dfrac", "frac")
    text = text.replace("\\left", "").replace("\\right", "")
    text = text.replace("^{\\circ}", "").replace("^\\circ", "")
    text = text.replace("\\$", "").replace("$", "")
    text = _drop_trailing_unit(text)
    text = text.replace("\\%", "").replace("%", "")
    text = text.replace(" .", " 0.").replace("{.", "{0.")
    if text.startswith("."):
        text = "0" + text
    text = _drop_short_left_side(text)
    text = re.sub(r"\\sqrt\s*([^\s{\[\\])", r"\\sqrt{\1}", text)
    for spacing in _SPACING_COMMANDS:
        text = text.replace(spacing, "")
    text = text.replace(" ", "")
    text = _brace_frac_arguments(text)
    if text == "0.5":
        text = "\\frac{1}{2}"
    text = _integer_slash_to_frac(text)
    return text.rstrip(".")


_CONNECTIVE = re.compile(r"\b(?:or|and)\b")


def _drop_trailing_unit(text: str) -> str:
    """`5 \\text{ cm}` → `5`: text after the first `\\text{ ` (a unit, by MATH convention) goes,
    unless it joins a second answer (`5 \\text{ or } 12`, `x = 5 \\text{ and } x = 12`): an
    answer that lists two answers must not read as its first one."""
    head, sep, tail = text.partition("\\text{ ")
    return head if sep and head.strip() and not _CONNECTIVE.search(tail) else text


def _drop_short_left_side(text: str) -> str:
    """`k = 7` → `7` when there is exactly one `=` and its left side has at most two characters."""
    parts = text.split("=")
    if len(parts) == 2 and len(parts[0].strip()) <= 2:
        return parts[1]
    return text


def _brace_frac_arguments(text: str) -> str:
    """`\\frac12` → `\\frac{1}{2}`, `\\frac1{72}` → `\\frac{1}{72}`, `\\frac{3}4` → `\\frac{3}{4}`."""
    pieces = text.split("\\frac")
    out = [pieces[0]]
    for piece in pieces[1:]:
        first, rest = _one_argument(piece)
        second, rest = _one_argument(rest) if first is not None else (None, rest)
        if first is None or second is None:
            out.append("\\frac" + piece)
        else:
            out.append("\\frac{" + first + "}{" + second + "}" + rest)
    return "".join(out)


def _one_argument(text: str) -> tuple[str | None, str]:
    """A leading TeX argument of `text` (a brace group or one character) and what follows."""
    if not text:
        return None, text
    if text[0] == "{":
        content = brace_group(text, 0)
        return (None, text) if content is None else (content, text[len(content) + 2 :])
    if text[0] == "\\":
        return None, text
    return text[0], text[1:]


def _integer_slash_to_frac(text: str) -> str:
    match = re.fullmatch(r"(-?\d+)/(-?\d+)", text)
    return f"\\frac{{{match.group(1)}}}{{{match.group(2)}}}" if match else text
