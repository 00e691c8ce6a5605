"""Groups of problems for the code task, from one of three sources (`code.source`):

- `leetcode`: LeetCodeDataset v0.3.1 test, one group per configured tag (v0.3.1 test has 52
  problems tagged "Dynamic Programming"); a problem carrying several listed tags joins the
  first listed;
- `humaneval`: HumanEval in blocks of consecutive task ids (not similar problems: HumanEval
  has no tags; useful to check the format and the sandbox on well-known problems);
- `groups_file`: your own JSONL, one problem per line (the paper's LeetCode study-plan groups
  cannot be redistributed). Either a reference to LeetCodeDataset v0.3.1 test,
  `{"group": "dp-1", "task_id": "<its task_id slug>"}`, or a whole problem:
  `{"group", "problem_id", "question", "entry_point", "solution", "tests": [snippet, ...]}`
  with optional `starter_code`, `preamble` (code run before the answer), `difficulty`, and
  `visible_tests` / `hidden_tests` instead of `tests` (else the first `visible_tests` of
  `tests` are visible). A snippet is Python run after the answer with `candidate` bound to
  the entry point (e.g. `"assert candidate(3) == 5"`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from lbt.tasks.code import data
from lbt.tasks.code.config import CodeParams
from lbt.tasks.code.testcases import split_tests


def load_problems(config: CodeParams) -> pl.DataFrame:
    """The problems table of the configured groups, sorted by group then problem id."""
    raw_dir = Path(config.raw_dir)
    if config.source == "leetcode":
        rows = leetcode_rows(data.read_records(raw_dir, data.LEETCODE_FILE), config)
    elif config.source == "humaneval":
        rows = humaneval_rows(data.read_records(raw_dir, data.HUMANEVAL_FILE), config)
    else:
        rows = file_rows(config)
    frame = data.table(rows).sort("family_id", "problem_id")
    if config.max_group_size is not None:
        frame = frame.group_by("family_id", maintain_order=True).head(config.max_group_size)
    if frame.is_empty():
        raise ValueError(f"code: source `{config.source}` gave no problems; check `code.leetcode_tags` or `code.groups_file`.")
    return frame


def leetcode_rows(records: list[dict[str, Any]], config: CodeParams) -> list[dict[str, Any]]:
    rows = []
    for record in records:
        tag = next((t for t in config.leetcode_tags if t in record["tags"]), None)
        if tag is not None:
            rows.append(data.leetcode_row(record, tag, config.visible_tests))
    return rows


def humaneval_rows(records: list[dict[str, Any]], config: CodeParams) -> list[dict[str, Any]]:
    size = config.humaneval_group_size
    return [data.humaneval_row(r, f"humaneval-{i // size:03d}", config.visible_tests) for i, r in enumerate(records)]


def file_rows(config: CodeParams) -> list[dict[str, Any]]:
    if not config.groups_file:
        raise ValueError("code.groups_file: set it to your groups' JSONL file when `code.source` is groups_file.")
    path = Path(config.groups_file)
    if not path.is_file():
        raise FileNotFoundError(f"code.groups_file: {path} does not exist.")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    leetcode: dict[str, dict[str, Any]] | None = None
    rows = []
    for number, line in enumerate(lines, start=1):
        if "task_id" in line and "tests" not in line:
            if leetcode is None:
                leetcode = {r["task_id"]: r for r in data.read_records(Path(config.raw_dir), data.LEETCODE_FILE)}
            if line["task_id"] not in leetcode:
                raise ValueError(f"{path}:{number}: task_id {line['task_id']!r} is not in {data.LEETCODE_FILE}.")
            rows.append(data.leetcode_row(leetcode[line["task_id"]], str(line["group"]), config.visible_tests))
        else:
            rows.append(own_row(line, config.visible_tests, f"{path}:{number}"))
    return rows


OWN_REQUIRED = ("group", "problem_id", "question", "entry_point", "solution")


def own_row(line: dict[str, Any], visible: int, where: str) -> dict[str, Any]:
    """A whole problem from a groups file line (see the module docstring)."""
    missing = [key for key in OWN_REQUIRED if key not in line]
    if missing or not ("tests" in line or "visible_tests" in line):
        raise ValueError(f"{where}: a problem needs {', '.join(OWN_REQUIRED)} and tests; missing {missing or ['tests']}.")
    if "visible_tests" in line:
        shown, hidden = list(line["visible_tests"]), list(line.get("hidden_tests", []))
    else:
        shown, hidden = split_tests(list(line["tests"]), visible)
    starter = line.get("starter_code", "")
    question = data.question_text(line["question"], starter) if starter else line["question"]
    return data._row(str(line["problem_id"]), str(line["group"]), "groups_file", question, line["solution"],
                     line.get("difficulty"), list(line.get("tags", [])), starter, line.get("preamble", ""),
                     line["entry_point"], shown, hidden)
