"""The pool keeps order and isolates runs from each other; the CLI prints one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lbt.sandbox import Job, Limits, SandboxPool
from lbt.sandbox.bubblewrap import bwrap_works
from lbt.sandbox.isolation import can_switch_uid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_pool_runs_in_order_and_a_hostile_job_harms_no_other():
    good = Job("def f(x):\n    return 2 * x\n", ["assert f(2) == 4", "assert f(3) == 6"], "f")
    wrong = Job("def f(x):\n    return 2 * x + 1\n", ["assert candidate(2) == 4"], "f")
    hostile = Job("import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n"
                  "while True:\n    pass\n", ["assert True"])
    jobs = [good, hostile, wrong, good, good, wrong]
    with SandboxPool(workers=2, limits=Limits(timeout_s=1.5, memory_mb=256)) as pool:
        results = pool.run_many(jobs)
    assert [r.passed for r in results] == [True, False, False, True, True, False]
    assert results[1].reason == "timeout"
    assert results[2].failing_test == "assert candidate(2) == 4" and results[2].reason == "assertion"


def cli(folder, code: str, tests: str, *options: str) -> tuple[int, dict]:
    """`python -m lbt.sandbox` on `code` and `tests`: its exit status and the JSON of its last line."""
    code_file, tests_file = folder / "code.py", folder / "tests.py"
    code_file.write_text(code)
    tests_file.write_text(tests)
    env = {**os.environ, "PYTHONPATH": REPO}
    done = subprocess.run([sys.executable, "-m", "lbt.sandbox", str(code_file), str(tests_file), *options],
                          capture_output=True, text=True, env=env, cwd=REPO, check=False)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_cli_prints_one_json_line(tmp_path):
    status, result = cli(tmp_path, "def add(a, b):\n    return a + b\n",
                         "x = 1\nassert add(1, 2) == 3\nassert add(x,\n           x) == 3\n")
    assert status == 1 and result["test_results"] == [True, False]
    assert result["failing_test"] == "assert add(x,\n           x) == 3" and result["pass_rate"] == 0.5


@pytest.mark.parametrize("asked", ["auto", "namespaces"])
def test_cli_says_which_isolation_ran(tmp_path, asked):
    status, result = cli(tmp_path, "x = 1\n", "assert x == 1\n", "--isolation", asked)
    fallback = "namespaces" if result["network_isolated"] else "none"
    bubblewrap = asked == "auto" and bwrap_works(can_switch_uid())
    assert status == 0 and result["isolation"] == ("bubblewrap" if bubblewrap else fallback)
