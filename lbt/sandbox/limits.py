"""The limits of one sandbox run and the record it returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Limits:
    """How much one run may use. `timeout_s` is wall time for the program and all its tests;
    CPU time is capped at `cpu_s` (default: the wall timeout, rounded up)."""

    timeout_s: float = 10.0
    cpu_s: int | None = None
    memory_mb: int = 1024  # address space (RLIMIT_AS) of each process
    max_procs: int = 16  # processes of the run's uid at once (RLIMIT_NPROC); only with a uid of its own
    file_mb: int = 16  # largest file it may write (RLIMIT_FSIZE)
    tmp_mb: int = 64  # size of each private tmpfs (/tmp, /dev/shm) under bubblewrap
    output_bytes: int = 1 << 20  # stdout + stderr beyond this kills the run (`output_limit`)
    keep_output_bytes: int = 4096  # how much of each stream the result keeps

    def child_limits(self) -> dict[str, int]:
        """The limits the child sets on itself (JSON for the runner)."""
        cpu = self.cpu_s if self.cpu_s is not None else max(1, int(-(-self.timeout_s // 1)))
        return {"cpu_s": cpu, "memory_mb": self.memory_mb, "max_procs": self.max_procs, "file_mb": self.file_mb}


@dataclass
class RunResult:
    """What one run did. `passed` is true only when the program ran, its entry point was found
    and every test ran and held; `test_results` has one bool per test (asserting snippet),
    False for the tests never reached; `reason` says why it did not pass (None when it did)."""

    passed: bool
    reason: str | None
    failing_test: str | None
    test_results: list[bool]
    seconds: float
    network_isolated: bool = False
    user_isolated: bool = False
    isolation: str = "none"  # "bubblewrap", "namespaces" (today's fallback: a network namespace) or "none"
    stdout: str = ""
    stderr: str = ""
    detail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pass_rate(self) -> float:
        """The fraction of tests that held (0 when there are none)."""
        return sum(self.test_results) / len(self.test_results) if self.test_results else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pass_rate": self.pass_rate}
