"""Test snippets from the datasets' test code, and their visible/hidden split.

A test is a snippet of Python run after the program in its namespace with `candidate` bound to
the entry point (see lbt/sandbox): a snippet holding an `assert` is a test, any other is
setup. LeetCodeDataset's `check(candidate)` is one assert per line; HumanEval's may hold
loops and helper statements, kept whole as snippets. HumanEval's visible tests are the
docstring examples (`>>> call` then the expected literal) when at least one can be read.
"""

from __future__ import annotations

import ast
import textwrap


def check_body_snippets(test_code: str) -> list[str]:
    """The statements of `def check(candidate)` in `test_code`, each dedented, in order."""
    tree = ast.parse(test_code)
    check = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is None:
        raise ValueError("The test code has no `def check(candidate)`.")
    return [textwrap.dedent(_segment(test_code, node)) for node in check.body]


def _segment(source: str, node: ast.stmt) -> str:
    lines = source.splitlines()[node.lineno - 1 : node.end_lineno]
    return "\n".join(lines)


def is_assert(snippet: str) -> bool:
    return any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(snippet)))


def split_tests(snippets: list[str], k: int) -> tuple[list[str], list[str]]:
    """(visible, hidden): the first `k` asserting snippets are visible, the rest hidden; each
    side also gets, in order, every setup snippet that comes before one of its tests. When
    there are no more than `k` tests, the hidden side is all of them (S-scores need some)."""
    sides: tuple[list[int], list[int]] = ([], [])
    setup: list[int] = []
    tests_seen = 0
    for index, snippet in enumerate(snippets):
        if not is_assert(snippet):
            setup.append(index)
            continue
        side = sides[0] if tests_seen < k else sides[1]
        side.extend(i for i in setup if i not in side)
        side.append(index)
        tests_seen += 1
    if not any(is_assert(snippets[i]) for i in sides[1]):  # every test shown: hidden ones are all of them
        return [snippets[i] for i in sorted(sides[0])], list(snippets)
    return [snippets[i] for i in sorted(sides[0])], [snippets[i] for i in sorted(sides[1])]


def docstring_examples(prompt: str, entry_point: str) -> list[str]:
    """`assert <call> == <expected>` for each `>>> call` example of the entry point's docstring
    whose expected output is a Python literal (others are skipped)."""
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return []
    function = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry_point), None)
    doc = ast.get_docstring(function) if function is not None else None
    return _examples(doc or "")


def _examples(doc: str) -> list[str]:
    lines = [line.strip() for line in doc.splitlines()]
    asserts = []
    for index, line in enumerate(lines):
        if not line.startswith(">>>") or index + 1 >= len(lines):
            continue
        call, expected = line[3:].strip(), lines[index + 1]
        if not expected or expected.startswith(">>>"):
            continue
        try:
            ast.parse(call, mode="eval")
            ast.literal_eval(expected)
        except (SyntaxError, ValueError):
            continue
        asserts.append(f"assert {call} == {expected}")
    return asserts
