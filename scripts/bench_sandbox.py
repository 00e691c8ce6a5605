"""Sandbox throughput and per-run overhead against a bare `python -c pass` (asserts nothing).

Usage: PYTHONPATH=. python scripts/bench_sandbox.py [--runs 40] [--workers 2] [--isolation auto]
"""

from __future__ import annotations

import argparse
import subprocess
import time

from lbt.sandbox import Job, Limits, SandboxPool
from lbt.sandbox.bubblewrap import MODES
from lbt.sandbox.isolation import sandbox_python


def bare_python_s(python: str, runs: int) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        subprocess.run([python, "-I", "-S", "-c", "pass"], check=True)
    return (time.perf_counter() - started) / runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--isolation", choices=MODES, default="auto")
    args = parser.parse_args()
    job = Job("def f(x):\n    return x + 1\n", [f"assert f({i}) == {i + 1}" for i in range(5)], "f")
    with SandboxPool(workers=1, limits=Limits(timeout_s=10), isolation=args.isolation) as pool:
        isolation = pool.run(job).isolation
        started = time.perf_counter()
        for _ in range(args.runs):
            pool.run(job)
        serial = (time.perf_counter() - started) / args.runs
    with SandboxPool(workers=args.workers, limits=Limits(timeout_s=10), isolation=args.isolation) as pool:
        started = time.perf_counter()
        results = pool.run_many([job] * args.runs)
        parallel = time.perf_counter() - started
    bare = bare_python_s(sandbox_python(True), args.runs)
    print(f"interpreter: {sandbox_python(True)}; isolation: {isolation}; all passed: {all(r.passed for r in results)}")
    print(f"bare `python -I -S -c pass`: {bare * 1000:.1f} ms per run")
    print(f"sandbox run (5 asserts), one at a time: {serial * 1000:.1f} ms per run "
          f"(overhead {1000 * (serial - bare):.1f} ms over bare python)")
    print(f"throughput with {args.workers} workers: {args.runs / parallel:.1f} runs/s")


if __name__ == "__main__":
    main()
