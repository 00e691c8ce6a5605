"""The code task's raw files (checked by sha256) and their records as problem rows.

Rows have PROBLEM_COLUMNS then EXTRA_COLUMNS; every problem is a TP of the eval split (role
`tp`) and its family id is its group. `solution` and `answer` are the reference code; gold
lives in `preamble` (code run before the answer: imports, helper classes), `entry_point`
(bound to `candidate`) and `visible_tests` / `hidden_tests` (JSON lists of test snippets).
"""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl

from lbt.tasks import data
from lbt.tasks.base import PROBLEM_COLUMNS
from lbt.tasks.code.testcases import check_body_snippets, docstring_examples, split_tests

LEETCODE_FILE = "leetcodedataset/LeetCodeDataset-v0.3.1-test.jsonl.gz"
HUMANEVAL_FILE = "humaneval/HumanEval.jsonl.gz"

# {path relative to raw_dir: (sha256, where to get it)}
DATA_FILES: dict[str, tuple[str, str]] = {
    LEETCODE_FILE: (
        "3ae536cb41342076691730b72424fdfb9264f233e05c81bf37b5f7e227ea1853",
        "newfacade/LeetCodeDataset @182cd19, data/LeetCodeDataset-v0.3.1-test.jsonl.gz (MIT)",
    ),
    HUMANEVAL_FILE: (
        "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
        "openai/human-eval @6d43fb9, data/HumanEval.jsonl.gz (MIT)",
    ),
}

EXTRA_COLUMNS = {
    "source": pl.String,
    "difficulty": pl.String,
    "tags": pl.String,  # JSON list
    "starter_code": pl.String,
    "preamble": pl.String,
    "entry_point": pl.String,
    "visible_tests": pl.String,  # JSON list of snippets
    "hidden_tests": pl.String,  # JSON list of snippets
}


def read_records(raw_dir: Path, relative: str) -> list[dict[str, Any]]:
    """The JSON lines of one of DATA_FILES (gzip), after checking its sha256."""
    sha256, source = DATA_FILES[relative]
    path = data.checked_file(Path(raw_dir), relative, sha256, source)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def question_text(description: str, starter_code: str) -> str:
    """The problem as shown to models: its statement, then its starter code."""
    return f"{description.strip()}\n\nStarter code:\n```python\n{starter_code.rstrip()}\n```"


def leetcode_row(record: dict[str, Any], group: str, visible: int) -> dict[str, Any]:
    """A LeetCodeDataset record: the first `visible` asserts of its check are visible."""
    shown, hidden = split_tests(check_body_snippets(record["test"]), visible)
    return _row(record["task_id"], group, "leetcode", question_text(record["problem_description"], record["starter_code"]),
                record["completion"], record["difficulty"], record["tags"], record["starter_code"], record["prompt"],
                record["entry_point"], shown, hidden)


def humaneval_row(record: dict[str, Any], group: str, visible: int) -> dict[str, Any]:
    """A HumanEval record: visible tests are its docstring examples when any can be read (all
    of `check` hidden), else the first `visible` snippets of `check`."""
    prompt, entry = record["prompt"], record["entry_point"]
    snippets = check_body_snippets(record["test"])
    shown = docstring_examples(prompt, entry)
    hidden = snippets
    if not shown:
        shown, hidden = split_tests(snippets, visible)
    description = f"Write the Python function `{entry}` described by its docstring."
    return _row(record["task_id"], group, "humaneval", question_text(description, prompt),
                prompt + record["canonical_solution"], None, [], prompt, preamble_of(prompt, entry), entry, shown, hidden)


def preamble_of(prompt: str, entry_point: str) -> str:
    """A HumanEval prompt without its entry-point function: its imports and helper functions."""
    lines = prompt.splitlines()
    kept = [n for n in ast.parse(prompt).body if not (isinstance(n, ast.FunctionDef) and n.name == entry_point)]
    return "\n\n".join("\n".join(lines[_first_line(n) - 1 : n.end_lineno]) for n in kept)


def _first_line(node: ast.stmt) -> int:
    """The first line of a statement, its decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def _row(problem_id: str, group: str, source: str, question: str, solution: str, difficulty: str | None,
         tags: list[str], starter: str, preamble: str, entry: str, shown: list[str], hidden: list[str]) -> dict[str, Any]:
    return {
        "problem_id": problem_id, "family_id": group, "role": "tp", "question": question,
        "solution": solution, "answer": solution, "source": source, "difficulty": difficulty,
        "tags": json.dumps(tags), "starter_code": starter, "preamble": preamble, "entry_point": entry,
        "visible_tests": json.dumps(shown), "hidden_tests": json.dumps(hidden),
    }


def table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The problems table of `rows`."""
    return pl.DataFrame(rows, schema={**PROBLEM_COLUMNS, **EXTRA_COLUMNS})
