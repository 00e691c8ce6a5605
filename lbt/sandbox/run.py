"""One sandbox run: start the runner child, feed it the job, read its report and its output
under a deadline and a size cap, kill what it left behind, and classify the outcome."""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Sequence

from lbt.sandbox.bubblewrap import WORKDIR, bwrap_args, bwrap_path, use_bubblewrap
from lbt.sandbox.isolation import make_workdir, sandbox_paths, sandbox_python, sweep_files, sweep_uid
from lbt.sandbox.limits import Limits, RunResult
from lbt.sandbox.runner import is_test

RUNNER = Path(__file__).with_name("runner.py")
# The whole environment a run sees: no API keys or anything else of the caller's.
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1"}
EXIT_GRACE_S = 0.2  # output still read after the child exits (descendants may keep its pipes)
POLL_S = 0.25  # how often a quiet run checks whether its child has exited


def run_program(program: str, tests: Sequence[str], entry_point: str | None = None,
                limits: Limits = Limits(), uid: int | None = None, isolation: str = "auto") -> RunResult:
    """Run `program`, then each test snippet in its namespace (`candidate` bound to
    `entry_point` when given), as `uid` when given, inside bubblewrap or not as `isolation`
    says (see bubblewrap.use_bubblewrap); see RunResult."""
    started = time.monotonic()
    bubblewrap = use_bubblewrap(isolation, uid is not None)
    workdir = WORKDIR if bubblewrap else make_workdir(uid)
    job = {"program": program, "tests": list(tests), "entry_point": entry_point, "uid": uid, "bubblewrap": bubblewrap,
           "workdir": str(workdir), "nonce": secrets.token_hex(8), "python_path": sandbox_paths(),
           "limits": _child_limits(limits, uid, bubblewrap)}
    try:
        events, streams, status, ended = _execute(job, workdir, limits)
    finally:
        _clean_up(uid, workdir, bubblewrap)
    return _result(events, streams, status, ended, tests, time.monotonic() - started, job)


def _child_limits(limits: Limits, uid: int | None, bubblewrap: bool) -> dict[str, int | None]:
    child = dict(limits.child_limits())
    if uid is None and not bubblewrap:  # bubblewrap's user namespace counts the run's processes only
        child["max_procs"] = None  # RLIMIT_NPROC would count all of the caller's own processes
    return child


def _clean_up(uid: int | None, workdir: Path, bubblewrap: bool) -> None:
    """Kill what the run left running and, without bubblewrap's private /tmp (which held the
    working directory) and /dev/shm, remove its working directory and what its uid left in the
    world-writable temporary folders."""
    if uid is not None:
        sweep_uid(uid)
    if bubblewrap:
        return
    shutil.rmtree(workdir, ignore_errors=True)
    if uid is not None:
        sweep_files(uid)


def _command(job: dict, limits: Limits) -> list[str]:
    """The runner's command line, inside bubblewrap when the job says so."""
    python = sandbox_python(job["uid"] is not None)
    command = [python, "-I", "-S", str(RUNNER)]
    if not job["bubblewrap"]:
        return command
    prefix = str(Path(os.path.realpath(python)).parent.parent)  # the interpreter and its standard library
    reveal = [str(RUNNER), prefix, *job["python_path"]]
    return [str(bwrap_path()), *bwrap_args(job["uid"] is not None, limits.tmp_mb, reveal), *command]


def _execute(job: dict, workdir: Path, limits: Limits) -> tuple[list[dict], dict[str, bytes], int, str]:
    """Run the child to its end; (report events, kept output, exit status, how it ended:
    "exited", "timeout" or "output_limit")."""
    report_read, report_write = os.pipe()
    job["report_fd"] = report_write
    env = {**BASE_ENV, "HOME": str(workdir), "TMPDIR": str(workdir)}
    process = subprocess.Popen(
        _command(job, limits), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        pass_fds=(report_write,), env=env, cwd="/" if job["bubblewrap"] else workdir, start_new_session=True,
    )
    os.close(report_write)
    assert process.stdin is not None
    try:
        process.stdin.write(json.dumps(job).encode())
        process.stdin.close()
    except BrokenPipeError:
        pass
    try:
        raw, streams, ended = _collect(process, report_read, limits)
    finally:
        if process.poll() is None:
            _kill_group(process)
        process.wait()
    nonce = job["nonce"]
    events = [e for e in _parse_lines(raw) if e.pop("nonce", None) == nonce]
    return events, streams, _child_status(process.returncode, job["bubblewrap"]), ended


def _child_status(returncode: int, bubblewrap: bool) -> int:
    """The runner's exit status as Popen gives it (-N: killed by signal N). bwrap exits with
    128 + N when the process it ran was killed by signal N (SIGXCPU from the CPU limit: 152)."""
    if bubblewrap and returncode > 128 and returncode - 128 in set(signal.Signals):
        return -(returncode - 128)
    return returncode


def _collect(process: subprocess.Popen, report_fd: int, limits: Limits) -> tuple[bytes, dict[str, bytes], str]:
    """Read the report and both streams until all close, the deadline passes or the output
    grows past its cap (then the child's group is killed)."""
    deadline = time.monotonic() + limits.timeout_s
    kept = {"stdout": b"", "stderr": b""}
    report, total, ended = b"", 0, "exited"
    with selectors.DefaultSelector() as selector:
        selector.register(report_fd, selectors.EVENT_READ, "report")
        selector.register(process.stdout.fileno(), selectors.EVENT_READ, "stdout")
        selector.register(process.stderr.fileno(), selectors.EVENT_READ, "stderr")
        while selector.get_map():
            if process.poll() is not None:  # what it left behind may hold the pipes open
                deadline = min(deadline, time.monotonic() + EXIT_GRACE_S)
            left = deadline - time.monotonic()
            if left <= 0:
                ended = "timeout" if process.poll() is None else "exited"
                break
            for key, _ in selector.select(min(left, POLL_S)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fd)
                elif key.data == "report":
                    report += chunk
                else:
                    total += len(chunk)
                    kept[key.data] = (kept[key.data] + chunk)[: limits.keep_output_bytes]
            if total > limits.output_bytes:
                ended = "output_limit"
                break
    os.close(report_fd)
    if ended != "exited":
        _kill_group(process)
    return report, kept, ended


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _parse_lines(raw: bytes) -> list[dict]:
    events = []
    for line in raw.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _result(events: list[dict], streams: dict[str, bytes], status: int, ended: str,
            tests: Sequence[str], seconds: float, job: dict) -> RunResult:
    stages = {str(e.get("event")): e for e in events if e.get("event") != "test"}
    outcomes = {int(e["index"]): e for e in events if e.get("event") == "test"}
    asserting = [i for i, snippet in enumerate(tests) if is_test(snippet)]
    results = [bool(outcomes.get(i, {}).get("ok")) for i in asserting]
    reason, detail, failing = _reason(stages, outcomes, status, ended, tests, asserting)
    passed = reason is None and bool(results) and all(results)
    if reason is None and not passed:
        reason = "no_tests"
    network = bool(stages.get("start", {}).get("network_isolated"))
    isolation = "bubblewrap" if job["bubblewrap"] else "namespaces" if network else "none"
    return RunResult(
        passed=passed, reason=reason, failing_test=failing, test_results=results, seconds=round(seconds, 4),
        network_isolated=network, user_isolated=job["uid"] is not None, isolation=isolation,
        stdout=streams["stdout"].decode(errors="replace"), stderr=streams["stderr"].decode(errors="replace"),
        detail=detail,
    )


def _reason(stages: dict[str, dict], outcomes: dict[int, dict], status: int, ended: str,
            tests: Sequence[str], asserting: list[int]) -> tuple[str | None, str | None, str | None]:
    """(reason, detail, failing test) of a run, the first cause first: the harness stopping it,
    the program or its entry point failing, a test failing, the process dying early."""
    unreached = next((tests[i] for i in asserting if i not in outcomes), None)
    if ended != "exited":
        return ended, None, unreached if "program" in stages else None
    if "start" not in stages:
        return "sandbox_error", f"the runner did not start (exit status {status})", None
    for stage in ("program", "entry_point"):
        event = stages.get(stage)
        if event is not None and not event.get("ok"):
            return event.get("reason"), event.get("message"), None
    failed = next((i for i in asserting if i in outcomes and not outcomes[i].get("ok")), None)
    if failed is not None:
        return outcomes[failed].get("reason"), None, tests[failed]
    if "done" not in stages:
        return _death(status), f"exit status {status}", unreached
    return None, None, None


def _death(status: int) -> str:
    """Why a child that never reported "done" ended: a CPU-time signal is a timeout, SIGKILL
    (the hard CPU limit or the kernel's OOM killer) is `killed`, an exit status is `exit`."""
    if status >= 0:
        return "exit"
    if -status == signal.SIGXCPU:
        return "timeout"
    if -status == signal.SIGKILL:
        return "killed"
    return f"killed: {signal.Signals(-status).name}"
