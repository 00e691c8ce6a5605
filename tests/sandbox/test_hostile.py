"""Hostile programs: each is contained, scored as failing with its reason, and the caller goes on."""

from __future__ import annotations

import os
import socket
import textwrap
from pathlib import Path

import pytest

from lbt.sandbox import Limits, run_program
from lbt.sandbox.isolation import can_switch_uid, lease_uid, processes_of

pytestmark = pytest.mark.skipif(not can_switch_uid(), reason="the sandbox's uid isolation needs root (CAP_SETUID)")

FAST = Limits(timeout_s=2.0, memory_mb=256, max_procs=8, output_bytes=1 << 16)


@pytest.fixture(scope="module")
def uid():
    lease = lease_uid()
    yield lease.uid
    lease.release()


def run(code: str, uid: int, tests=("assert True",), entry_point=None, limits=FAST):
    return run_program(textwrap.dedent(code), list(tests), entry_point, limits, uid)


def test_infinite_loop_times_out(uid):
    result = run("while True:\n    pass\n", uid, limits=Limits(timeout_s=1.0, memory_mb=256))
    assert not result.passed and result.reason == "timeout" and result.seconds < 3


def test_fork_bomb_is_capped_and_killed(uid):
    code = """
    import os
    while True:
        try:
            os.fork()
        except OSError:
            pass
    """
    result = run(code, uid)
    assert not result.passed and result.reason == "timeout"
    assert processes_of(uid) == []


def test_memory_bomb(uid):
    result = run("hog = bytearray(4 << 30)\n", uid)
    assert not result.passed and result.reason == "memory"
    result = run("hog = []\nwhile True:\n    hog.append(' ' * (1 << 20))\n", uid)
    assert not result.passed and result.reason == "memory"


def test_huge_output_is_cut(uid):
    result = run("while True:\n    print('x' * 1000)\n", uid)
    assert not result.passed and result.reason == "output_limit"
    assert len(result.stdout) <= FAST.keep_output_bytes


def test_cannot_write_or_delete_outside(uid, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    code = f"""
    import os
    for path in ({str(victim)!r}, "/etc/hostname"):
        try:
            os.remove(path)
        except OSError:
            pass
    open("/etc/lbt-sandbox-pwned", "w").write("x")
    """
    result = run(code, uid)
    assert not result.passed and result.reason.startswith("exception: PermissionError")
    assert victim.read_text() == "keep me"
    assert not Path("/etc/lbt-sandbox-pwned").exists() and Path("/etc/hostname").exists()


def test_writes_inside_its_own_directory_work(uid):
    result = run("open('scratch.txt', 'w').write('ok')\nback = open('scratch.txt').read()\n", uid,
                 tests=["assert back == 'ok'"])
    assert result.passed, result


def test_environment_secrets_are_not_visible(uid, monkeypatch):
    monkeypatch.setenv("LBT_PLANTED_SECRET", "s3cr3t-token")
    code = f"""
    import os
    seen = os.environ.get("LBT_PLANTED_SECRET")
    try:
        seen = seen or open("/proc/{os.getpid()}/environ").read()
    except OSError:
        pass
    print(seen)
    """
    result = run(code, uid, tests=["assert seen and 's3cr3t-token' in seen"])
    assert not result.passed and result.reason == "assertion"
    assert "s3cr3t" not in result.stdout


def test_no_network(uid):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.5)
        port = server.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'hi')\n"
        result = run(code, uid)
        with pytest.raises(socket.timeout):
            server.accept()
    assert not result.passed and result.reason.startswith("exception: OSError")
    assert result.network_isolated


def test_cannot_signal_its_parent(uid):
    result = run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", uid)
    assert not result.passed and result.reason.startswith("exception: PermissionError")
    result = run(f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)\n", uid)
    assert not result.passed and result.reason.startswith("exception: PermissionError")


@pytest.mark.parametrize("code", ["import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n"])
def test_exiting_before_the_tests_is_not_a_pass(uid, code):
    result = run(code, uid)
    assert not result.passed and result.reason == "exit" and result.test_results == [False]


def test_exiting_inside_a_test_is_not_a_pass(uid):
    result = run("import os\ndef f():\n    os._exit(0)\n", uid, tests=["assert f() is None", "assert True"])
    assert not result.passed and result.reason == "exit" and result.test_results == [False, False]


def test_syntax_error(uid):
    result = run("def f(:\n    return 1\n", uid)
    assert not result.passed and result.reason == "syntax_error"


def test_missing_entry_point(uid):
    result = run("def g():\n    return 1\n", uid, tests=["assert candidate() == 1"], entry_point="f")
    assert not result.passed and result.reason == "missing_entry_point"


def test_daemon_is_killed_at_the_end(uid):
    code = """
    import os, sys, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            print(os.getpid(), flush=True)
            while True:
                time.sleep(0.05)
        os._exit(0)
    time.sleep(0.3)
    """
    result = run(code, uid)
    assert result.passed, result
    daemon = int(result.stdout.split()[0])
    assert daemon not in processes_of(uid) and processes_of(uid) == []


def test_failing_assert_is_named_and_counted(uid):
    result = run("def f(x):\n    return x + 1\n", uid, tests=["assert f(1) == 2", "assert f(2) == 4", "assert f(3) == 4"])
    assert not result.passed and result.reason == "assertion"
    assert result.failing_test == "assert f(2) == 4" and result.test_results == [True, False, True]
    assert result.pass_rate == pytest.approx(2 / 3)


def test_setup_failure_fails_the_tests_after_it(uid):
    result = run("x = 1\n", uid, tests=["assert x == 1", "y = 1 / 0", "assert True"])
    assert not result.passed and result.test_results == [True, False]
    assert result.reason.startswith("test setup failed: exception: ZeroDivisionError")
