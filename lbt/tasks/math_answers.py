"""Reading, normalising, grading and grouping answers to MATH-style problems.

Pure functions over strings (no file IO). A verdict `is_equivalent(gold, pred)` is reached by
three layers, cheapest first:

1. `normalize_answer`: a Hendrycks-style string normalisation (the classic MATH grading).
   Equal normal forms mean equivalent answers; nothing else is asked.
2. Plain numbers (`12`, `-0.5`, `\\frac{3}{4}`, `7/2`) are compared by value in Python with
   math-verify's rule: exactly, or rounded to 6 decimals when one side is a decimal. Numerals
   with a base subscript (`1011_2`) are compared as strings (math-verify reads `10_5` as 10).
3. Everything else goes to math-verify: `parse` of `$answer$`, then `verify(gold, pred)`, gold
   first (it is not symmetric). Before calling `verify`, the worker describes each parsed
   answer (its kind and numeric value, see `Description`) and answers "no" at once for pairs
   that cannot match, e.g. two constants of different values.

math-verify runs in worker processes (`python -m lbt.tasks.math_answers --worker`) with its
signal-based timeouts switched off (`parsing_timeout=None`, `timeout_seconds=None`): the
parent gives every item a deadline (`configure_verifier`) and kills and replaces a worker that
overruns it. Grading is therefore safe in threads and Jupyter kernels. An item that times out,
or that math-verify cannot read, keeps the verdict of layers 1-2, i.e. not equivalent: the
classic normalisation is the fallback.

Verdicts are memoised per (gold, pred) pair, descriptions per answer and parses inside the
workers, so the batched entry points (`grade_many`, `group_answers`) pay once per distinct pair
or answer.
"""

from __future__ import annotations

import json
import math
import os
import re
import selectors
import subprocess
import sys
import threading
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

FINAL_ANSWER_MARKER = "[[Final Answer]]"

GroupingMode = Literal["equivalence", "exact"]

# ---------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_ANSWER_IS = re.compile(r"answer\s+is\s*:?\s*(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+")
_PLACEHOLDERS = {"ANSWER", "$ANSWER$"}


def extract_answer(text: str | None, *, last_number_fallback: bool = True) -> str | None:
    """The final answer written in `text`, or None when none can be read.

    Looked for in this order, the first hit wins:
    1. the first `[[Final Answer]]:` block (the format the prompts ask for): the first non-empty
       line after the marker (a `$$`/`\\[` display continues to its closing delimiter), with a
       `\\boxed{}` inside it unwrapped and surrounding `$`, `\\(`/`\\)`, `\\[`/`\\]`, quotes and a
       trailing period removed;
    2. the content of the last `\\boxed{...}` or `\\fbox{...}` (balanced braces; `\\boxed 5` too);
    3. the text after the last "answer is" (to the end of its line or sentence);
    4. the last number in the text (`1,000` read as `1000`), unless `last_number_fallback` is off.
    """
    if not text or not text.strip():
        return None
    finders = [_from_final_answer_block, last_boxed_content, _from_answer_is]
    if last_number_fallback:
        finders.append(_last_number)
    for find in finders:
        answer = find(text)
        if answer:
            return answer
    return None


def last_boxed_content(text: str) -> str | None:
    """Content of the last well-formed `\\boxed{...}` / `\\fbox{...}` in `text` (None if none)."""
    starts = sorted(
        (m.start(), m.end()) for cmd in _BOX_COMMANDS for m in re.finditer(re.escape(cmd) + r"(?![A-Za-z])", text)
    )
    for _, after_command in reversed(starts):
        content = _box_argument(text, after_command)
        if content is not None and content.strip():
            return content.strip()
    return None


def _box_argument(text: str, pos: int) -> str | None:
    """The argument of a box command ending at `pos`: a brace group, or `\\boxed 5`'s token."""
    rest = text[pos:]
    stripped = rest.lstrip()
    if stripped.startswith("{"):
        return _brace_group(text, pos + len(rest) - len(stripped))
    if rest[:1] == " ":
        token = re.match(r"\s*([^\s$]+)", rest)
        return token.group(1) if token else None
    return None


def _brace_group(text: str, open_pos: int) -> str | None:
    """Content of the brace group opening at `open_pos` (escaped `\\{`/`\\}` do not count)."""
    depth, i = 0, open_pos
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[open_pos + 1 : i]
        i += 1
    return None


def _from_final_answer_block(text: str) -> str | None:
    start = text.find(FINAL_ANSWER_MARKER)
    if start < 0:
        return None
    body = text[start + len(FINAL_ANSWER_MARKER) :].lstrip(" \t:")
    lines = [line for line in body.split("\n")]
    first = next((i for i, line in enumerate(lines) if line.strip() and line.strip() not in ("'''", "```")), None)
    if first is None:
        return None
    answer = _clean_block_answer(_display_span(lines, first))
    return None if answer in _PLACEHOLDERS else answer or None


def _display_span(lines: list[str], first: int) -> str:
    """The first answer line, extended over following lines while a math display is open."""
    span = lines[first].strip()
    for line in lines[first + 1 :]:
        if not _display_is_open(span):
            break
        span += " " + line.strip()
    return span


def _display_is_open(span: str) -> bool:
    unescaped = re.sub(r"\\\$", "", span)
    double_dollars = unescaped.count("$$")
    single_dollars = unescaped.replace("$$", "").count("$")
    return double_dollars % 2 == 1 or single_dollars % 2 == 1 or span.count("\\[") > span.count("\\]")


def _clean_block_answer(answer: str) -> str:
    answer = answer.strip().strip("'`").strip()
    if any(cmd in answer for cmd in _BOX_COMMANDS):
        boxed = last_boxed_content(answer)
        if boxed:
            return boxed
    return strip_math_delimiters(answer)


def strip_math_delimiters(answer: str) -> str:
    """`$x$`, `$$x$$`, `\\(x\\)`, `\\[x\\]` → `x`; a trailing period or comma is dropped."""
    answer = answer.strip().rstrip(".,;").strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(left) and answer.endswith(right) and len(answer) >= len(left) + len(right):
            answer = answer[len(left) : len(answer) - len(right)].strip()
            break
    return answer.rstrip(".").strip()


def _from_answer_is(text: str) -> str | None:
    matches = list(_ANSWER_IS.finditer(text))
    if not matches:
        return None
    phrase = matches[-1].group(1).strip()
    phrase = re.split(r"(?<!\d)\.(?:\s|$)|\.\s", phrase, maxsplit=1)[0]
    answer = strip_math_delimiters(phrase.strip("* "))
    boxed = last_boxed_content(answer)
    return boxed or answer or None


def _last_number(text: str) -> str | None:
    numbers = _NUMBER.findall(text)
    return numbers[-1].replace(",", "") if numbers else None


# ---------------------------------------------------------------------------------------------
# Normalisation (the classic MATH string rules, Hendrycks et al. 2021, in our own words)
# ---------------------------------------------------------------------------------------------

_SPACING_COMMANDS = ("\\,", "\\;", "\\:", "\\ ", "\\!")


def normalize_answer(answer: str) -> str:
    """A canonical string for `answer`; equal canonical strings mean equivalent answers.

    Rules, in order: unwrap a whole-string `\\boxed{}`; drop line breaks and `\\!`; `\\\\` → `\\`;
    `\\tfrac`/`\\dfrac` → `\\frac`; drop `\\left`/`\\right`, degree marks, dollar signs, a trailing
    unit written as `\\text{ unit}`, and percent signs; `.5` → `0.5`; drop a short left-hand side
    (`x = 5` → `5`); `\\sqrt3` → `\\sqrt{3}`; drop spaces; `\\frac12` → `\\frac{1}{2}`;
    `0.5` → `\\frac{1}{2}`; `a/b` of integers → `\\frac{a}{b}`; drop a trailing period.
    """
    text = answer.strip()
    boxed = last_boxed_content(text) if text.startswith(_BOX_COMMANDS) else None
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


def _drop_trailing_unit(text: str) -> str:
    """`5 \\text{ cm}` → `5`: text after the first `\\text{ ` (a unit, by MATH convention) goes."""
    head, sep, _ = text.partition("\\text{ ")
    return head if sep and head.strip() else text


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
        content = _brace_group(text, 0)
        return (None, text) if content is None else (content, text[len(content) + 2 :])
    if text[0] == "\\":
        return None, text
    return text[0], text[1:]


def _integer_slash_to_frac(text: str) -> str:
    match = re.fullmatch(r"(-?\d+)/(-?\d+)", text)
    return f"\\frac{{{match.group(1)}}}{{{match.group(2)}}}" if match else text


# ---------------------------------------------------------------------------------------------
# Plain numbers (layer 2)
# ---------------------------------------------------------------------------------------------

_INTEGER = re.compile(r"[-+]?\d+")
_DECIMAL = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)")
_FRACTION = re.compile(r"([-+]?)\\frac\{([-+]?\d+)\}\{([-+]?\d+)\}")


@dataclass(frozen=True)
class PlainNumber:
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


def _numbers_equal(a: PlainNumber, b: PlainNumber) -> bool:
    """math-verify's rule: decimals are compared rounded to 6 places, the rest exactly."""
    if a.is_decimal or b.is_decimal:
        return round(a.value, 6) == round(b.value, 6)
    return a.value == b.value


def _number_key(value: Fraction) -> str:
    """The grouping key of a numeric value (10 significant digits, shared with math-verify's)."""
    return _float_key(float(value))


def _float_key(value: float) -> str:
    return f"{value + 0.0:.10g}"


# ---------------------------------------------------------------------------------------------
# The math-verify worker (runs in a child process)
# ---------------------------------------------------------------------------------------------

# An answer's description, computed from its math-verify parse:
#   const (key: its value), expr (key: symbol names and values at two fixed points),
#   text (a symbol or product of symbols: a word), relation (key: eq or ineq; an assignment
#   `name = value` is described by its value instead), collection (sets, tuples, intervals,
#   matrices; key: size and sorted element values), other (parsed, none of the above),
#   unparsed (math-verify read no expression). Plain numbers are described without parsing,
#   percentages by their number (`50\%` as 50, the classic rule).
Description = tuple[str, str | None]

_WORKER_CACHE_LIMIT = 200_000
_SUBSTITUTION_POINTS = ((0.5377, 0.1), (1.3131, 0.07))  # (value of the first symbol, step)


def _worker_main() -> None:
    """Serve requests on stdin: one JSON object {"op", "items"} per line; one JSON line per item."""
    import logging

    logging.disable(logging.CRITICAL)
    import math_verify  # noqa: F401  (import cost paid before "ready")

    state = _WorkerState()
    state.parsed("1")
    _reply("ready")
    for line in sys.stdin:
        request = json.loads(line)
        handler = state.verify if request["op"] == "verify" else state.describe
        for item in request["items"]:
            _reply(handler(*item) if request["op"] == "verify" else handler(item))


def _reply(value: Any) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


class _WorkerState:
    """Parses and descriptions of every string seen by this worker."""

    def __init__(self) -> None:
        self._parses: dict[str, list[Any]] = {}
        self._descriptions: dict[str, Description] = {}

    def parsed(self, answer: str) -> list[Any]:
        if answer not in self._parses:
            from math_verify import parse

            if len(self._parses) > _WORKER_CACHE_LIMIT:
                self._parses.clear()
                self._descriptions.clear()

            self._parses[answer] = parse(f"${answer}$", parsing_timeout=None)
        return self._parses[answer]

    def describe(self, answer: str) -> Description:
        if answer not in self._descriptions:
            number = plain_number(normalize_answer(answer))
            try:
                self._descriptions[answer] = (
                    ("const", _number_key(number.value)) if number else _describe_parse(answer, self.parsed(answer))
                )
            except Exception:
                self._descriptions[answer] = ("other", None)
        return self._descriptions[answer]

    def verify(self, gold: str, pred: str) -> bool:
        from math_verify import verify

        try:
            percent = "%" in gold or "%" in pred  # math-verify's own percentage rules decide
            if not percent and not _could_be_equal(self.describe(gold), self.describe(pred)):
                return False
            return bool(verify(self.parsed(gold), self.parsed(pred), timeout_seconds=None))
        except Exception:
            return False


def _describe_parse(answer: str, parsed: list[Any]) -> Description:
    import sympy
    from sympy.matrices import MatrixBase

    expression = next((p for p in parsed if not isinstance(p, str)), None)
    if expression is None:
        return ("unparsed", None)
    if isinstance(expression, sympy.Eq) and isinstance(expression.lhs, sympy.Symbol):
        expression = expression.rhs  # an assignment `name = value` stands for its value
    if isinstance(expression, (sympy.logic.boolalg.Boolean, sympy.core.relational.Relational)):
        return ("relation", "eq" if isinstance(expression, sympy.Eq) else "ineq")
    if isinstance(expression, (sympy.Set, sympy.Tuple, MatrixBase, list, tuple)):
        return ("collection", _collection_key(expression))
    if isinstance(expression, sympy.Expr):
        return _describe_expression(expression)
    return ("other", None)


def _collection_key(collection: Any) -> str | None:
    """`size:v1|v2|...` (element values, sorted) for a finite set, tuple, matrix or interval
    (size 2: its endpoints), `u:...` for a union (its pieces' endpoints and elements); just the
    size when an element has no numeric value; None for other sets."""
    import sympy

    elements = _collection_elements(collection)
    if elements is None:
        return None
    size = "u" if isinstance(collection, sympy.Union) else str(len(elements))
    values = [_element_value(element) for element in elements]
    if any(value is None for value in values):
        return size
    ordered = sorted(values, key=lambda v: (v.real, v.imag))  # type: ignore[union-attr]
    return f"{size}:" + "|".join(_complex_key(v) for v in ordered)  # type: ignore[arg-type]


def _collection_elements(collection: Any) -> list[Any] | None:
    import sympy
    from sympy.matrices import MatrixBase

    if isinstance(collection, (sympy.FiniteSet, sympy.Tuple, list, tuple)):
        return list(collection)
    if isinstance(collection, MatrixBase):
        return list(collection)
    if isinstance(collection, sympy.Interval):
        return [collection.start, collection.end]  # `(1,2)` is read as an open interval
    if isinstance(collection, sympy.Union):
        pieces = [_collection_elements(piece) for piece in collection.args]
        return None if any(p is None for p in pieces) else [e for p in pieces for e in p]  # type: ignore[union-attr]
    return None


def _element_value(element: Any) -> complex | None:
    import sympy

    if element in (sympy.oo, -sympy.oo):
        return complex(float(element), 0.0)
    if not isinstance(element, sympy.Expr) or element.free_symbols:
        return None
    return _value_at(element, [], _SUBSTITUTION_POINTS[0])


def _describe_expression(expression: Any) -> Description:
    import sympy

    symbols = sorted(expression.free_symbols, key=lambda s: s.name)
    if symbols and all(isinstance(f, sympy.Symbol) for f in sympy.Mul.make_args(expression)):
        return ("text", None)
    values = [_value_at(expression, symbols, point) for point in _SUBSTITUTION_POINTS]
    if any(v is None for v in values):
        return ("other", None)
    if not symbols or _close(values[0], values[1]):
        return ("const", _complex_key(values[0]))
    names = ",".join(s.name for s in symbols)
    return ("expr", names + ":" + "|".join(_complex_key(v) for v in values))


def _value_at(expression: Any, symbols: list[Any], point: tuple[float, float]) -> complex | None:
    start, step = point
    substitution = {s: start + i * step for i, s in enumerate(symbols)}
    try:
        value = complex(expression.evalf(15, subs=substitution))
    except Exception:
        return None
    return value if math.isfinite(value.real) and math.isfinite(value.imag) else None


def _close(a: complex, b: complex) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _complex_key(value: complex) -> str:
    if math.isinf(value.real) and value.imag == 0:
        return "inf" if value.real > 0 else "-inf"
    if abs(value.imag) <= 1e-12 * max(1.0, abs(value.real)):
        return _float_key(value.real)
    return _float_key(value.real) + "+" + _float_key(value.imag) + "j"


def _could_be_equal(gold: Description, pred: Description) -> bool:
    """False when the descriptions alone show that math-verify would say no (a fast negative).

    Two constants must agree within math-verify's tolerance (6 decimals); an equation or
    inequality may match anything (math-verify reads `x - y = 0` as 0 against a non-equation
    gold); other kinds as in `_may_match`."""
    if gold[0] == pred[0] == "const":
        a, b = _key_value(gold[1]), _key_value(pred[1])
        return a is None or b is None or abs(a - b) <= max(2e-6, 1e-9 * max(abs(a), abs(b)))
    if gold[0] == pred[0] == "unparsed":
        return True  # math-verify compares the strings it extracted
    if "relation" in (gold[0], pred[0]) and "unparsed" not in (gold[0], pred[0]):
        return True
    return _may_match(gold, pred)


def _key_value(key: str | None) -> complex | None:
    if key is None:
        return None
    return complex(key.replace("+-", "-")) if key.endswith("j") else complex(float(key))


def _symbol_names(key: str | None) -> str:
    return (key or "").split(":", 1)[0]


def _keys_close(a: str | None, b: str | None) -> bool:
    """Whether two value lists (`...:v1|v2`) agree within math-verify's tolerance."""
    texts_a = (a or "").split(":", 1)[-1].split("|")
    texts_b = (b or "").split(":", 1)[-1].split("|")
    return len(texts_a) == len(texts_b) and all(_values_close(x, y) for x, y in zip(texts_a, texts_b))


def _values_close(a: str, b: str) -> bool:
    if a == b:
        return True
    x, y = _key_value(a), _key_value(b)
    return x is not None and y is not None and abs(x - y) <= max(2e-6, 1e-9 * max(abs(x), abs(y)))


def _may_match(a: Description, b: Description) -> bool:
    """Whether answers of these descriptions could be judged equal both ways by math-verify
    (symmetric; constants are never matched with each other here: their values decide).

    Only: expressions taking the same values at two points; words with words or expressions;
    equations with equations, inequalities with inequalities or with intervals and unions (an
    interval may be written as an inequality); a constant with a one-element set or tuple of
    its value; collections of equal size whose element values (sorted) agree; anything with
    an answer of kind `other`."""
    kinds = {a[0], b[0]}
    if "unparsed" in kinds:
        return False
    if "other" in kinds:
        return True
    if a[0] == b[0] == "expr":
        return _symbol_names(a[1]) == _symbol_names(b[1]) and _keys_close(a[1], b[1])
    if kinds <= {"expr", "text"}:
        return True
    if kinds == {"relation"}:
        return a[1] == b[1]
    if kinds == {"relation", "collection"}:
        relation, collection = (a, b) if a[0] == "relation" else (b, a)
        return relation[1] == "ineq" and (collection[1] is None or collection[1].split(":", 1)[0] in ("2", "u"))
    if kinds == {"const", "collection"}:
        collection, constant = (a, b) if a[0] == "collection" else (b, a)
        return _collections_may_match(collection[1], "1:" + str(constant[1]))
    if kinds == {"collection"}:
        return _collections_may_match(a[1], b[1])
    return False


def _collections_may_match(a: str | None, b: str | None) -> bool:
    """Unknown collections may match anything; else equal sizes and, when known, close values."""
    if a is None or b is None:
        return True
    if a.split(":", 1)[0] != b.split(":", 1)[0]:
        return False
    return ":" not in a or ":" not in b or _keys_close(a, b)


# ---------------------------------------------------------------------------------------------
# Worker pool (parent side)
# ---------------------------------------------------------------------------------------------

VERIFY_TIMEOUT_S = 5.0  # per item, parse + verify
WORKER_START_TIMEOUT_S = 120.0
_CHUNK = 64


WORKER_COMMAND = (sys.executable, "-m", "lbt.tasks.math_answers", "--worker")


class _Worker:
    """One worker child process (`WORKER_COMMAND`) and its stdout buffer."""

    def __init__(self, command: Sequence[str] = WORKER_COMMAND) -> None:
        self.command = list(command)
        self.process: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def start(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=package_root,  # so that no stray `math.py` in the caller's folder shadows the stdlib
        )
        self._buffer = b""
        if self.read_line(WORKER_START_TIMEOUT_S) != "ready":
            self.stop()
            raise RuntimeError(
                "The math-verify worker did not start; run `python -m lbt.tasks.math_answers --worker` to see why."
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, op: str, items: Sequence[Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write((json.dumps({"op": op, "items": list(items)}) + "\n").encode())
        self.process.stdin.flush()

    def read_line(self, timeout_s: float) -> str | None:
        """The next reply line, or None if none came within `timeout_s` (or the worker died)."""
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if not selector.select(timeout_s):
                    return None
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return None
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.process = None


class _VerifierPool:
    """Workers that run math-verify items with a deadline each; one caller at a time."""

    def __init__(self, n_workers: int, timeout_s: float, command: Sequence[str] = WORKER_COMMAND) -> None:
        self.n_workers = n_workers
        self.timeout_s = timeout_s
        self.command = list(command)
        self.timeouts = 0
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()

    def run(self, op: str, items: Sequence[Any], on_timeout: Any) -> list[Any]:
        """The worker's reply for every item, in order (`on_timeout` where one overran).

        Items are routed by the answer they parse (the pred of a pair), so each worker's parse
        cache sees each answer once."""
        if not items:
            return []
        with self._lock:
            routed: list[list[int]] = [[] for _ in range(self.n_workers)]
            for index, item in enumerate(items):
                routed[_route(item, self.n_workers)].append(index)
            results: list[Any] = [on_timeout] * len(items)
            errors: list[BaseException] = []

            def work(w: int, indices: list[int]) -> None:
                try:
                    chunks = [indices[i : i + _CHUNK] for i in range(0, len(indices), _CHUNK)]
                    self._run_share(w, op, items, chunks, results, on_timeout)
                except BaseException as error:  # re-raised in the caller's thread below
                    errors.append(error)

            shares = [(w, indices) for w, indices in enumerate(routed) if indices]
            threads = [threading.Thread(target=work, args=share) for share in shares[1:]]
            for thread in threads:
                thread.start()
            work(*shares[0])
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
            return results

    def _run_share(
        self, w: int, op: str, items: Sequence[Any], share: list[list[int]], results: list[Any], on_timeout: Any
    ) -> None:
        worker = self._worker(w)
        for chunk in share:
            pending = list(chunk)
            while pending:
                if not worker.alive():
                    worker.start()
                worker.send(op, [items[i] for i in pending])
                done = 0
                for index in pending:
                    reply = worker.read_line(self.timeout_s)
                    if reply is None:
                        worker.stop()
                        self.timeouts += 1
                        results[index] = on_timeout
                        done += 1
                        break
                    results[index] = reply
                    done += 1
                pending = pending[done:]

    def _worker(self, w: int) -> _Worker:
        while len(self._workers) <= w:
            self._workers.append(_Worker(self.command))
        return self._workers[w]

    def close(self) -> None:
        with self._lock:
            for worker in self._workers:
                worker.stop()
            self._workers = []


def _route(item: Any, n_workers: int) -> int:
    answer = item[1] if isinstance(item, (tuple, list)) else item
    return zlib.crc32(answer.encode()) % n_workers


_POOL: _VerifierPool | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> _VerifierPool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = _VerifierPool(_default_workers(), VERIFY_TIMEOUT_S)
            import atexit

            atexit.register(_POOL.close)
        return _POOL


def _default_workers() -> int:
    configured = os.environ.get("LBT_MATH_VERIFY_WORKERS")
    return max(1, int(configured)) if configured else max(1, min(2, os.cpu_count() or 1))


def configure_verifier(n_workers: int | None = None, timeout_s: float | None = None) -> None:
    """Set the number of math-verify worker processes and the per-item deadline (seconds).

    Defaults: `LBT_MATH_VERIFY_WORKERS` or min(2, CPU count) workers, 5 s per item."""
    pool = _pool()
    with pool._lock:
        if n_workers is not None and n_workers != pool.n_workers:
            for worker in pool._workers:
                worker.stop()
            pool._workers = []
            pool.n_workers = max(1, n_workers)
        if timeout_s is not None:
            pool.timeout_s = timeout_s


def verifier_stats() -> dict[str, Any]:
    """Worker processes configured, per-item deadline, and items that overran it so far."""
    pool = _pool()
    return {"workers": pool.n_workers, "timeout_s": pool.timeout_s, "timeouts": pool.timeouts}


# ---------------------------------------------------------------------------------------------
# Grading
# ---------------------------------------------------------------------------------------------

_VERDICTS: dict[tuple[str, str], bool] = {}
_DESCRIPTIONS: dict[str, Description] = {}
_NORMALISED: dict[str, str] = {}
_CACHE_LIMIT = 2_000_000


def normalized(answer: str) -> str:
    """`normalize_answer`, memoised."""
    if answer not in _NORMALISED:
        if len(_NORMALISED) > _CACHE_LIMIT:
            _NORMALISED.clear()
        try:
            _NORMALISED[answer] = normalize_answer(answer)
        except Exception:
            _NORMALISED[answer] = answer.strip()
    return _NORMALISED[answer]


def is_equivalent(gold: str, pred: str | None) -> bool:
    """Whether `pred` is a correct answer for `gold` (None and empty answers never are)."""
    return grade_many([gold], [pred])[0]


def grade_many(golds: Sequence[str], preds: Sequence[str | None]) -> list[bool]:
    """`is_equivalent(gold, pred)` for each pair; each distinct pair is decided once."""
    if len(golds) != len(preds):
        raise ValueError(f"grade_many needs as many golds as preds, got {len(golds)} and {len(preds)}.")
    pairs = [(g.strip(), p.strip()) if p is not None and p.strip() else None for g, p in zip(golds, preds)]
    verdicts = _verdicts({pair for pair in pairs if pair is not None})
    return [False if pair is None else verdicts[pair] for pair in pairs]


def _verdicts(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    """The verdict of every (gold, pred) pair: memoised ones, then quick ones, then math-verify."""
    if len(_VERDICTS) > _CACHE_LIMIT:
        _VERDICTS.clear()
    verdicts = {pair: _VERDICTS[pair] for pair in pairs if pair in _VERDICTS}
    undecided = []
    for pair in sorted(pairs - verdicts.keys()):
        verdict = _quick_verdict(*pair)
        if verdict is None:
            undecided.append(pair)
        else:
            verdicts[pair] = verdict
    replies = _pool().run("verify", undecided, on_timeout=False)
    verdicts.update((pair, bool(reply)) for pair, reply in zip(undecided, replies))
    _VERDICTS.update(verdicts)
    return verdicts


_BASE_NUMERAL = re.compile(r"(\w+)_\{?(\d+)\}?")


def _base_numeral_key(normalised: str) -> str:
    """`1011_{2}` and `1011_2` → `1011_2`; anything else unchanged."""
    match = _BASE_NUMERAL.fullmatch(normalised)
    return f"{match.group(1)}_{match.group(2)}" if match else normalised


def _quick_verdict(gold: str, pred: str) -> bool | None:
    """Layers 1-2: True when the normal forms match, a plain-number verdict, or None (ask math-verify).

    Numerals with a base subscript (`1011_2`) are compared as strings: math-verify reads
    `10_5` as 10."""
    gold_norm, pred_norm = normalized(gold), normalized(pred)
    if gold_norm == pred_norm:
        return True
    if _BASE_NUMERAL.fullmatch(gold_norm) or _BASE_NUMERAL.fullmatch(pred_norm):
        return _base_numeral_key(gold_norm) == _base_numeral_key(pred_norm)
    if "%" in gold or "%" in pred:
        return None
    gold_number, pred_number = plain_number(gold_norm), plain_number(pred_norm)
    if gold_number is not None and pred_number is not None:
        return _numbers_equal(gold_number, pred_number)
    return None


def verify_with_math_verify(gold: str, pred: str) -> bool:
    """math-verify's own verdict (layer 3 only, bounded in time), for tests and audits."""
    return bool(_pool().run("verify", [(gold.strip(), pred.strip())], on_timeout=False)[0])


# ---------------------------------------------------------------------------------------------
# Grouping
# ---------------------------------------------------------------------------------------------


def group_answers(
    answers: Sequence[str | None],
    mode: GroupingMode = "equivalence",
    scopes: Sequence[Any] | None = None,
) -> list[str | None]:
    """A class label per answer: answers judged equivalent share a label; None stays None.

    mode "exact": the label is the stripped answer (the paper's grouping).
    mode "equivalence": answers are first put in classes by normal form (`normalize_answer`);
    plain numbers and constant expressions by value (10 significant digits), so `\\frac12`,
    `0.5` and `\\dfrac{1}{2}` share a class. Then classes are merged by math-verify. Its
    verdicts are neither symmetric nor transitive, so: two classes count as equal only when
    math-verify says yes both ways (gold = one, pred = the other, and back), and merging is
    leader clustering, not transitive closure: classes are visited by decreasing size (ties by
    key); each joins the first earlier leader equal to it, else leads a new group. Members are
    equal to their leader, never chained through a third answer. Classes whose parsed kinds
    cannot match (two different constants, a number and a tuple...) are never compared, which
    keeps grouping fast. A group's label is its most frequent stripped answer (ties: shortest,
    then alphabetical), so labels do not depend on input order.

    `scopes` (optional, one hashable per answer) groups each scope on its own, e.g. one scope
    per teaching problem when labelling a whole table at once.
    """
    if mode not in ("equivalence", "exact"):
        raise ValueError(f"Unknown grouping mode {mode!r}: use 'equivalence' or 'exact'.")
    stripped = [a.strip() if a is not None and a.strip() else None for a in answers]
    if mode == "exact":
        return stripped
    if scopes is not None and len(scopes) != len(answers):
        raise ValueError(f"group_answers needs one scope per answer, got {len(scopes)} for {len(answers)}.")
    scope_of = scopes if scopes is not None else [None] * len(answers)
    by_scope: dict[Any, Counter[str]] = defaultdict(Counter)
    for answer, scope in zip(stripped, scope_of):
        if answer is not None:
            by_scope[scope][answer] += 1
    if len(_DESCRIPTIONS) > _CACHE_LIMIT:
        _DESCRIPTIONS.clear()
    _describe_all({a for counts in by_scope.values() for a in counts})
    ordered_by_scope = {scope: _ordered_classes(counts) for scope, counts in by_scope.items()}
    pairs_by_scope = {scope: _candidate_pairs(ordered) for scope, ordered in ordered_by_scope.items()}
    verdicts = _verify_both_ways((ordered_by_scope[scope], pairs_by_scope[scope]) for scope in ordered_by_scope)
    label_of = {
        scope: _labels(_leader_clustering(ordered, pairs_by_scope[scope], verdicts))
        for scope, ordered in ordered_by_scope.items()
    }
    return [None if a is None else label_of[s][a] for a, s in zip(stripped, scope_of)]


@dataclass
class _AnswerClass:
    key: str
    counts: Counter[str]
    description: Description

    @property
    def size(self) -> int:
        return sum(self.counts.values())

    @property
    def representative(self) -> str:
        return min(self.counts, key=lambda a: (-self.counts[a], len(a), a))


def _ordered_classes(counts: Counter[str]) -> list[_AnswerClass]:
    """The classes of one scope (answers sharing a key), largest first, ties by key."""
    return sorted(_classes_by_key(counts).values(), key=lambda c: (-c.size, c.key))


def _labels(groups: list[list[_AnswerClass]]) -> dict[str, str]:
    """Label of each distinct answer: its group's most frequent answer."""
    labels: dict[str, str] = {}
    for group in groups:
        merged: Counter[str] = Counter()
        for answer_class in group:
            merged.update(answer_class.counts)
        label = min(merged, key=lambda a: (-merged[a], len(a), a))
        labels.update({answer: label for answer in merged})
    return labels


def _classes_by_key(counts: Counter[str]) -> dict[str, _AnswerClass]:
    classes: dict[str, _AnswerClass] = {}
    for answer, count in counts.items():
        key, description = _class_key(answer)
        if key not in classes:
            classes[key] = _AnswerClass(key, Counter(), description)
        classes[key].counts[answer] += count
    return classes


def _class_key(answer: str) -> tuple[str, Description]:
    """Answers with the same key are equivalent without asking math-verify."""
    norm = normalized(answer)
    number = plain_number(norm)
    if number is not None:
        key = _number_key(number.value)
        return "=" + key, ("const", key)
    if _BASE_NUMERAL.fullmatch(norm):
        return "~" + _base_numeral_key(norm), ("unparsed", None)
    description = _DESCRIPTIONS.get(answer, ("other", None))
    if description[0] == "const":
        return "=" + str(description[1]), description
    return "~" + norm, description


def _candidate_pairs(ordered: list[_AnswerClass]) -> list[tuple[int, int]]:
    """(i, j), i < j, of the classes that `_may_match`; constants only meet size-1 collections
    and `other`, so the many constant classes cost nothing."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    for index, answer_class in enumerate(ordered):
        by_kind[answer_class.description[0]].append(index)
    pairs = []
    for index, answer_class in enumerate(ordered):
        kind = answer_class.description[0]
        partners = by_kind["other"] if kind == "const" else [i for k, v in by_kind.items() if k != "const" for i in v]
        if kind in ("collection", "other"):
            partners = partners + by_kind["const"]
        for other in partners:
            if other != index and _may_match(answer_class.description, ordered[other].description):
                pairs.append((min(index, other), max(index, other)))
    return sorted(set(pairs))


def _verify_both_ways(
    scopes: Iterable[tuple[list[_AnswerClass], list[tuple[int, int]]]],
) -> dict[tuple[str, str], bool]:
    """Decide, in one batch, both directions of every candidate pair of every scope."""
    pairs: set[tuple[str, str]] = set()
    for ordered, candidates in scopes:
        for i, j in candidates:
            first, second = ordered[i].representative, ordered[j].representative
            pairs |= {(first, second), (second, first)}
    return _verdicts(pairs)


def _leader_clustering(
    ordered: list[_AnswerClass], pairs: list[tuple[int, int]], verdicts: dict[tuple[str, str], bool]
) -> list[list[_AnswerClass]]:
    """Each class joins the first earlier leader equal to it both ways, else leads a new group."""
    earlier_candidates: dict[int, list[int]] = defaultdict(list)
    for i, j in pairs:
        earlier_candidates[j].append(i)
    leader_of: dict[int, int] = {}
    groups: dict[int, list[_AnswerClass]] = {}
    for j, answer_class in enumerate(ordered):
        home = next(
            (
                i
                for i in sorted(earlier_candidates[j])
                if leader_of[i] == i and _equal_both_ways(ordered[i], answer_class, verdicts)
            ),
            j,
        )
        leader_of[j] = home
        groups.setdefault(home, []).append(answer_class)
    return list(groups.values())


def _equal_both_ways(first: _AnswerClass, second: _AnswerClass, verdicts: dict[tuple[str, str], bool]) -> bool:
    a, b = first.representative, second.representative
    return verdicts[(a, b)] and verdicts[(b, a)]


def _describe_all(answers: Iterable[str]) -> None:
    """Fill `_DESCRIPTIONS` for answers that are not plain numbers (math-verify parses them)."""
    todo = sorted(
        a for a in answers if a not in _DESCRIPTIONS and plain_number(normalized(a)) is None
    )
    replies = _pool().run("describe", todo, on_timeout=["other", None])
    for answer, reply in zip(todo, replies):
        _DESCRIPTIONS[answer] = (reply[0], reply[1])


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker_main()
