"""Simple mutants of a reference solution, for checking that tests catch wrong code."""

from __future__ import annotations

import ast

FLIP = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


def off_by_one(code: str) -> str | None:
    """The last `return <value>` returns `<value> + 1` (None when there is none)."""
    tree = ast.parse(code)
    returns = [n for n in ast.walk(tree) if isinstance(n, ast.Return) and n.value is not None]
    if not returns:
        return None
    last = max(returns, key=lambda n: (n.lineno, n.col_offset))
    last.value = ast.BinOp(left=last.value, op=ast.Add(), right=ast.Constant(1))
    return ast.unparse(tree)


def flipped_comparison(code: str) -> str | None:
    """The first comparison (in source order) negated: < and >=, > and <=, == and != swap."""
    tree = ast.parse(code)
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare) and type(n.ops[0]) in FLIP]
    if not compares:
        return None
    first = min(compares, key=lambda n: (n.lineno, n.col_offset))
    first.ops[0] = FLIP[type(first.ops[0])]()
    return ast.unparse(tree)
