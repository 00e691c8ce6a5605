"""What a parsed answer is, and fast negative checks between two answers. Pure functions.

An answer's description `(kind, key)` is computed from its math-verify parse (in the verifier
worker, see `lbt.tasks.math.verifier`):

- const: a constant (key: its value, 10 significant digits);
- expr: an expression in symbols (key: symbol names and its values at two fixed points);
- text: a symbol or product of symbols, i.e. a word;
- relation: an equation or inequality (key: eq or ineq); an assignment `name = value` is
  described by its value instead;
- collection: a set, tuple, interval or matrix (key: size and sorted element values);
- other: parsed, none of the above;
- unparsed: math-verify read no expression.

Plain numbers are described without parsing, percentages by their number (`50\\%` as 50, the
classic rule). Before calling math-verify's `verify`, `could_be_equal` answers "no" at once for
pairs that cannot match (e.g. two constants of different values); grouping only compares
classes that `may_match`.
"""

from __future__ import annotations

import math
from typing import Any

from lbt.tasks.math.numbers import float_key

Description = tuple[str, str | None]

_SUBSTITUTION_POINTS = ((0.5377, 0.1), (1.3131, 0.07))  # (value of the first symbol, step)


def describe_parse(answer: str, parsed: list[Any]) -> Description:
    """The description of `answer` from its math-verify parse (a sympy-bearing list)."""
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
        return float_key(value.real)
    return float_key(value.real) + "+" + float_key(value.imag) + "j"


def could_be_equal(gold: Description, pred: Description) -> bool:
    """False when the descriptions alone show that math-verify would say no (a fast negative).

    Two constants must agree within math-verify's tolerance (6 decimals); an equation or
    inequality may match anything (math-verify reads `x - y = 0` as 0 against a non-equation
    gold); other kinds as in `may_match`."""
    if gold[0] == pred[0] == "const":
        a, b = _key_value(gold[1]), _key_value(pred[1])
        return a is None or b is None or abs(a - b) <= max(2e-6, 1e-9 * max(abs(a), abs(b)))
    if gold[0] == pred[0] == "unparsed":
        return True  # math-verify compares the strings it extracted
    if "relation" in (gold[0], pred[0]) and "unparsed" not in (gold[0], pred[0]):
        return True
    return may_match(gold, pred)


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


def may_match(a: Description, b: Description) -> bool:
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
