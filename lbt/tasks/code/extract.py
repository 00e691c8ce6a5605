"""The code in a completion (its last ```python block) and code normalised for grouping."""

from __future__ import annotations

import ast
import io
import re
import tokenize

_BLOCK = re.compile(r"```[ \t]*(?:python|py|python3)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


def extract_code(completion: str) -> str | None:
    """The last ```python block of `completion` (an unclosed last block runs to the end);
    None when there is none or it is empty."""
    blocks = [b for b in _BLOCK.findall(completion) if b.strip()]
    return blocks[-1].rstrip() + "\n" if blocks else None


def normalize_code(code: str) -> str:
    """Code without comments, docstrings or layout differences: `ast.unparse` of the parsed
    code with docstrings dropped; code that does not parse loses its comments and blank
    lines and trailing spaces only."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return _strip_comments(code)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.unparse(tree)


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _strip_comments(code: str) -> str:
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type != tokenize.COMMENT]
        code = tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return "\n".join(line.rstrip() for line in code.splitlines() if line.strip())
