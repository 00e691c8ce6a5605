"""The pool keeps order and isolates runs from each other; the CLI prints one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from lbt.sandbox import Job, Limits, SandboxPool

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


def test_cli_prints_one_json_line(tmp_path):
    code, tests = tmp_path / "code.py", tmp_path / "tests.py"
    code.write_text("def add(a, b):\n    return a + b\n")
    tests.write_text("x = 1\nassert add(1, 2) == 3\nassert add(x,\n           x) == 3\n")
    env = {**os.environ, "PYTHONPATH": REPO}
    done = subprocess.run([sys.executable, "-m", "lbt.sandbox", str(code), str(tests)], capture_output=True,
                          text=True, env=env, cwd=REPO, check=False)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 1 and result["test_results"] == [True, False]
    assert result["failing_test"] == "assert add(x,\n           x) == 3" and result["pass_rate"] == 0.5
