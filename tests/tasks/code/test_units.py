"""Code extraction, normalisation, test splitting, prompts and the groups file format."""

from __future__ import annotations

import json

from lbt.tasks.base import Demo
from lbt.tasks.code import CodeParams, CodeTask
from lbt.tasks.code.testcases import _examples, check_body_snippets, split_tests


def test_extract_last_python_block():
    task = CodeTask()
    text = "Idea.\n```python\nx = 1\n```\nBetter:\n```python\ndef f():\n    return 2\n```\nDone."
    assert task.extract_answer(text) == "def f():\n    return 2\n"
    assert task.extract_answer("no code here") is None
    assert task.extract_answer("```python\n\n```") is None


def test_answer_groups_ignore_comments_docstrings_layout():
    task = CodeTask()
    a = 'def f(x):\n    """Doc."""\n    return x+1  # one more\n'
    b = "def f(x):\n\n    return x + 1\n"
    c = "def f(x):\n    return x + 2\n"
    labels = task.answer_groups([a, b, c, None])
    assert labels[0] == labels[1] != labels[2] and labels[3] is None


def test_split_tests_keeps_setup_and_never_leaves_hidden_empty():
    snippets = ["import math", "assert 1", "assert 2", "x = 3", "assert x == 3"]
    assert split_tests(snippets, 2) == (["import math", "assert 1", "assert 2"], ["import math", "x = 3", "assert x == 3"])
    assert split_tests(["assert 1"], 3) == (["assert 1"], ["assert 1"])


def test_check_body_and_docstring_examples():
    code = "def check(candidate):\n    assert candidate(1) == 2\n    for i in range(3):\n        assert candidate(i) == i + 1\n"
    assert check_body_snippets(code) == ["assert candidate(1) == 2", "for i in range(3):\n    assert candidate(i) == i + 1"]
    doc = "Add one.\n>>> inc(1)\n2\n>>> inc(0)\n'not literal\n>>> print(inc(2))\n3"
    assert _examples(doc) == ["assert inc(1) == 2", "assert print(inc(2)) == 3"]


def test_prompts_raw_and_chat():
    task = CodeTask()
    raw = task.render([Demo("Q1", "R1")], "Q2", chat=False)
    assert raw["prompt"].index("Q1") < raw["prompt"].index("R1") < raw["prompt"].index("Q2")
    assert raw["prompt"].endswith("### Solution:\n") and raw["stop"] == ("### Problem:",)
    chat = task.render([Demo("Q1", "R1")], "Q2", chat=True)
    assert [role for role, _ in chat["messages"]] == ["system", "user", "assistant", "user"]


def test_groups_file_problems_grade_in_the_sandbox(tmp_path):
    lines = [{"group": "g", "problem_id": f"p{i}", "question": f"Add {i}.", "entry_point": "f",
              "solution": f"def f(x):\n    return x + {i}\n",
              "tests": [f"assert candidate({j}) == {j + i}" for j in range(5)]} for i in range(3)]
    path = tmp_path / "groups.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    with CodeTask(CodeParams(source="groups_file", groups_file=str(path), visible_tests=2)) as task:
        problems = task.load_problems()
        assert problems.height == 3 and len(json.loads(problems["hidden_tests"][0])) == 3
        answers = ["def f(x):\n    return 0\n", problems["answer"][1], None]
        assert task.grade_many(answers, task.golds(problems)) == [0.0, 1.0, 0.0]  # the V-score by default
        assert task.v_scores(answers, task.golds(problems)) == [0.0, 1.0, 0.0]
        assert task.s_scores(answers, problems) == [0.0, 1.0, 0.0]
        feedback = task.feedback(answers, task.golds(problems))
        assert feedback[1] is None and "Failing test: assert candidate(1) == 1" in feedback[0]
        assert "No ```python code block" in feedback[2]
    with CodeTask(CodeParams(source="groups_file", groups_file=str(path), visible_tests=2, grade="pass_rate")) as task:
        assert task.grade_many(answers, task.golds(problems)) == [0.5, 1.0, 0.0]


def test_revision_prompt_follows_the_failed_solution():
    task = CodeTask()
    raw = task.render([], "Q", chat=False)
    revised = task.revision_prompt(raw, "my code", "Failing test: assert f(1) == 2", chat=False)["prompt"]
    assert revised.startswith(raw["prompt"] + "my code") and revised.index("assert f(1) == 2") > revised.index("my code")
    chat = task.revision_prompt(task.render([], "Q", chat=True), "my code", "boom", chat=True)["messages"]
    assert [role for role, _ in chat[-2:]] == ["assistant", "user"] and "boom" in chat[-1][1]
