"""Hostile programs against every isolation this machine offers, each run by a caller process
of its own (tests/sandbox/driver.py, started with a secret in its environment):

- root-bubblewrap: as root, bwrap with the run's leased uid inside;
- root-namespaces: as root, the fallback (leased uid, private network namespace, sweeps);
- user-bubblewrap: as an unprivileged user (nobody), bwrap with a user namespace;
- user-none: as nobody without bwrap, where nothing but rlimits and the clean environment hold.

Each test asserts what the mode contains, and for `user-none` the harm it is documented not to
contain (so that docs/sandbox.md stays true); what would harm this machine or send a packet
(a fork bomb, a connection to an outside address) is not run there.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from lbt.sandbox import Limits, RunResult
from lbt.sandbox.bubblewrap import bwrap_works
from lbt.sandbox.isolation import processes_of, world_readable

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.py")
NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"
SECRET_NAME, SECRET = "LBT_PLANTED_SECRET", "s3cr3t-" + secrets.token_hex(8)
FAST = Limits(timeout_s=2.0, memory_mb=256, max_procs=8, output_bytes=1 << 16)
MODES = {"root-bubblewrap": "bubblewrap", "root-namespaces": "namespaces", "user-bubblewrap": "bubblewrap",
         "user-none": "none"}
WEAK = {"root-namespaces": {"caller_death"},  # harm the mode does not contain
        "user-none": {"writes", "loopback", "daemon", "environ", "caller_death"}}
UNSAFE = {"user-none": {"fork_bomb": "nothing there bounds a fork bomb", "outside": "it would send a real packet"}}


class Sandbox:
    """One isolation mode: runs programs through the driver, as root or as nobody."""

    def __init__(self, mode: str) -> None:
        self.mode, self.isolation = mode, MODES[mode]
        self.as_user = mode.startswith("user-")
        self.caller_uid = NOBODY if self.as_user else 0

    def contains(self, harm: str) -> bool:
        return harm not in WEAK.get(self.mode, ())

    def skip_unsafe(self, harm: str) -> None:
        reason = UNSAFE.get(self.mode, {}).get(harm)
        if reason:
            pytest.skip(f"not run in {self.mode}: {reason}")

    def job(self, code: str, tests=("assert True",), entry_point=None, limits=FAST) -> dict:
        return {"program": textwrap.dedent(code), "tests": list(tests), "entry_point": entry_point,
                "limits": asdict(limits), "isolation": "namespaces" if self.isolation == "none" else self.isolation}

    def run(self, code: str, tests=("assert True",), entry_point=None, limits=FAST) -> tuple[RunResult, int]:
        """The run's result and the uid its processes had."""
        done = drive(self.as_user, self.job(code, tests, entry_point, limits))
        assert done.returncode == 0, done.stderr
        reply = json.loads(done.stdout.splitlines()[-1])
        fields = {k: v for k, v in reply["result"].items() if k != "pass_rate"}
        result = RunResult(**fields)
        assert result.isolation == self.isolation, result
        return result, reply["uid"] if reply["uid"] is not None else self.caller_uid


def start_driver(as_user: bool, job: dict) -> subprocess.Popen:
    """Start the driver on `job` (as nobody when `as_user`) with the secret in its environment."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), SECRET_NAME: SECRET, "HOME": "/nonexistent"}
    command = [sys.executable, str(DRIVER)]
    if as_user:  # setpriv execs the driver: the same process
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", SYSTEM_PYTHON, str(DRIVER)]
    driver = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd="/")
    driver.stdin.write(json.dumps(job))
    driver.stdin.close()
    return driver


def drive(as_user: bool, job: dict) -> subprocess.CompletedProcess:
    """Run the driver to its end."""
    driver = start_driver(as_user, job)
    stdout, stderr = driver.stdout.read(), driver.stderr.read()
    return subprocess.CompletedProcess(driver.args, driver.wait(timeout=60), stdout, stderr)


@functools.cache
def unavailable(mode: str) -> str | None:
    """Why `mode` cannot be tested here (None when it can)."""
    if os.geteuid() != 0:
        return "needs root (to lease uids, and to run the unprivileged modes as nobody)"
    if mode == "root-bubblewrap" and not bwrap_works(True):
        return "bwrap is missing or cannot create namespaces here"
    if mode.startswith("user-"):
        if not (shutil.which("setpriv") and os.path.exists(SYSTEM_PYTHON) and world_readable(DRIVER)):
            return f"needs setpriv, {SYSTEM_PYTHON} and a checkout others can read"
        if mode == "user-bubblewrap":
            job = {"program": "", "tests": ["assert True"], "entry_point": None, "limits": asdict(FAST),
                   "isolation": "bubblewrap"}
            if drive(True, job).returncode != 0:
                return "bwrap cannot create namespaces for an unprivileged user here"
    return None


@pytest.fixture(params=list(MODES))
def sandbox(request) -> Sandbox:
    reason = unavailable(request.param)
    if reason:
        pytest.skip(reason)
    return Sandbox(request.param)


@pytest.fixture
def caller_dir(sandbox):
    """A folder of the caller's own (like its home), outside /tmp and /dev/shm."""
    path = Path(tempfile.mkdtemp(prefix="lbt-caller-", dir="/var/tmp"))
    os.chown(path, sandbox.caller_uid, sandbox.caller_uid)
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def gone(predicate, wait_s: float = 2.0) -> bool:
    """True once `predicate()` is empty (polled up to `wait_s`)."""
    deadline = time.monotonic() + wait_s
    while predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def with_token(token: str) -> list[int]:
    """Live processes whose command line holds `token`."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            if token.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                found.append(int(name))
        except OSError:
            continue
    return found


def test_benign_program_passes(sandbox):
    result, _ = sandbox.run("def f(x):\n    return x + 1\n", ["assert f(1) == 2", "assert candidate(2) == 3"], "f")
    assert result.passed and result.test_results == [True, True], result


def test_writes_outside_do_not_survive(sandbox, caller_dir):
    name = "lbt-hostile-" + secrets.token_hex(4)
    outside = [f"{folder}/{name}" for folder in ("/tmp", "/dev/shm", "/var/tmp", "/run/lock", "/etc", REPO,
                                                 Path.home(), caller_dir)]
    code = f"""
    import json, os
    written = []
    for path in {outside!r} + [os.path.join(os.environ["HOME"], {name!r})]:
        try:
            with open(path, "w") as handle:
                handle.write("x")
            written.append(path)
        except OSError:
            pass
    print(json.dumps(written))
    """
    result, _ = sandbox.run(code)
    written = json.loads(result.stdout)
    survivors = [path for path in outside if os.path.lexists(path)]
    for path in survivors:
        os.unlink(path)
    assert result.passed and written[-1].endswith(name) and not os.path.exists(written[-1])  # its own folder works
    assert (survivors == []) == sandbox.contains("writes"), survivors
    if sandbox.isolation == "bubblewrap":  # a private /tmp that is writable inside
        assert f"/tmp/{name}" in written and f"/dev/shm/{name}" in written


def test_no_connection_to_the_callers_loopback(sandbox):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.5)
        port = server.getsockname()[1]
        result, _ = sandbox.run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'hi')\n")
        try:
            server.accept()[0].close()
            accepted = True
        except socket.timeout:
            accepted = False
    assert accepted != sandbox.contains("loopback")
    assert result.passed == accepted and result.network_isolated == sandbox.contains("loopback"), result


def test_outside_address_is_unreachable(sandbox):
    sandbox.skip_unsafe("outside")
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): with only a loopback, connect fails before any packet
    result, _ = sandbox.run("import socket\nsocket.create_connection(('192.0.2.1', 9), timeout=1)\n")
    assert not result.passed and "Network is unreachable" in result.reason, result
    assert result.seconds < 1


def test_daemon_does_not_outlive_the_run(sandbox):
    token = f"1000.{secrets.randbelow(10**6):06d}"  # the daemon is `sleep <token>`
    code = f"""
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", {token!r}])
        os._exit(0)
    time.sleep(0.3)
    started = any({token!r}.encode() in open(f"/proc/{{p}}/cmdline", "rb").read()
                  for p in os.listdir("/proc") if p.isdigit() and os.path.exists(f"/proc/{{p}}/cmdline"))
    """
    result, _ = sandbox.run(code, ["assert started"])
    survived = not gone(lambda: with_token(token))
    for pid in with_token(token):
        os.kill(pid, 9)
    assert result.passed, result  # the daemon did run
    assert survived != sandbox.contains("daemon")


def test_nothing_outlives_a_caller_that_dies(sandbox):
    token = f"1000.{secrets.randbelow(10**6):06d}"
    code = f"""
    import os
    os.fork()  # then both the runner and its child become `sleep <token>`
    os.execv("/bin/sleep", ["sleep", {token!r}])
    """
    driver = start_driver(sandbox.as_user, sandbox.job(code, limits=Limits(timeout_s=30, memory_mb=256)))
    started = gone(lambda: not with_token(token), wait_s=10)  # the sleep is running
    driver.kill()  # SIGKILL: no chance to clean up
    driver.wait()
    driver.stdout.close()
    driver.stderr.close()
    survived = not gone(lambda: with_token(token))
    for pid in with_token(token):
        os.kill(pid, 9)
    assert started and survived != sandbox.contains("caller_death")


def test_callers_secrets_are_unseen(sandbox):
    code = f"""
    import os
    seen = [f"{{k}}={{v}}" for k, v in os.environ.items()]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            seen += open(f"/proc/{{pid}}/environ", "rb").read().decode(errors="replace").split("\\0")
        except OSError:
            pass
    found = [entry for entry in seen if entry.startswith({SECRET_NAME!r} + "=")]
    print(found)
    """
    result, _ = sandbox.run(code, ["assert not found"])
    assert result.passed == sandbox.contains("environ"), result
    assert (SECRET in result.stdout) != sandbox.contains("environ")


def test_fork_bomb_is_bounded_and_killed(sandbox):
    sandbox.skip_unsafe("fork_bomb")
    count = """
    import os, time
    forked = 0
    while forked < 64:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        forked += 1
    print(forked)
    """
    result, uid = sandbox.run(count, ["assert forked < 64"])
    assert result.passed and int(result.stdout) < FAST.max_procs, result
    assert gone(lambda: processes_of(uid))
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result, uid = sandbox.run(bomb)
    assert not result.passed and result.reason == "timeout", result
    assert gone(lambda: processes_of(uid))


def test_huge_output_is_cut(sandbox):
    result, _ = sandbox.run("while True:\n    print('x' * 1000)\n")
    assert not result.passed and result.reason == "output_limit" and len(result.stdout) <= FAST.keep_output_bytes


def test_infinite_loop_times_out(sandbox):
    result, _ = sandbox.run("while True:\n    pass\n", limits=Limits(timeout_s=1.0, memory_mb=256))
    # a generous bound: it says the loop was stopped, not how fast (a loaded machine starts bwrap slowly)
    assert not result.passed and result.reason == "timeout" and result.seconds < 20, result


def test_cpu_limit_reads_as_a_timeout(sandbox):
    # the CPU limit (1 s) strikes long before the wall clock (30 s): SIGXCPU, which bwrap passes
    # on as exit status 152, is a timeout in every mode
    result, _ = sandbox.run("while True:\n    pass\n", limits=Limits(timeout_s=30.0, cpu_s=1, memory_mb=256))
    assert not result.passed and result.reason == "timeout" and result.seconds < 20, result
