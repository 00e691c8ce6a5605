"""Many sandbox runs in parallel: a thread per slot, each slot with a uid of its own.

`SandboxPool(workers)` leases `workers` uids (when it can switch uids, see `isolation`) and
runs jobs on as many threads; each thread waits on its child process, so `workers` is the
number of programs running at once (default: the CPU count). `run_many` keeps the input order.
`isolation` is "auto" (bubblewrap where it works, else the namespaces fallback), "bubblewrap"
or "namespaces" (see bubblewrap.py).
"""

from __future__ import annotations

import os
import queue
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Sequence

from lbt.sandbox.bubblewrap import use_bubblewrap
from lbt.sandbox.isolation import UidLease, can_switch_uid, lease_uid
from lbt.sandbox.limits import Limits, RunResult
from lbt.sandbox.run import run_program


@dataclass(frozen=True)
class Job:
    """One program and its tests (`entry_point` is bound to `candidate` before the tests)."""

    program: str
    tests: Sequence[str]
    entry_point: str | None = None


class SandboxPool:
    """Runs jobs `workers` at a time under `limits`; close it (or use `with`) to free its uids."""

    def __init__(self, workers: int | None = None, limits: Limits = Limits(), switch_uid: bool | None = None,
                 isolation: str = "auto") -> None:
        self.workers = workers or os.cpu_count() or 1
        self.limits = limits
        use_uids = can_switch_uid() if switch_uid is None else switch_uid
        use_bubblewrap(isolation, use_uids)  # an unknown or unavailable mode fails here, not in every run
        self.isolation = isolation
        self._leases: list[UidLease] = [lease_uid() for _ in range(self.workers)] if use_uids else []
        self._free: queue.Queue[int | None] = queue.Queue()
        for slot in range(self.workers):
            self._free.put(self._leases[slot].uid if self._leases else None)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox")

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, job: Job) -> RunResult:
        """One job on a free slot (blocks until one is free)."""
        uid = self._free.get()
        try:
            return run_program(job.program, job.tests, job.entry_point, self.limits, uid, self.isolation)
        finally:
            self._free.put(uid)

    def run_many(self, jobs: Iterable[Job]) -> list[RunResult]:
        """Every job's result, in order, `workers` at a time."""
        return list(self._executor.map(self.run, jobs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        for lease in self._leases:
            lease.release()
        self._leases = []
