"""A sandbox that runs untrusted Python programs against tests, each run a separate process.

Modules: `limits` (Limits, RunResult), `runner` (the child: isolate, drop privileges, run the
program then its tests one at a time, report), `bubblewrap` (runs inside bwrap where it
works), `isolation` (the fallback: uids leased per run, the sweeps of what a run left behind,
working directories), `run` (one run: deadline, output
cap, outcome), `pool` (many runs in parallel), `__main__` (the debugging CLI).
"""

from lbt.sandbox.limits import Limits, RunResult
from lbt.sandbox.pool import Job, SandboxPool
from lbt.sandbox.run import run_program

__all__ = ["Job", "Limits", "RunResult", "SandboxPool", "run_program"]
