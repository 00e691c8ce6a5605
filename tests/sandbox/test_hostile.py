"""Hostile and failing programs, run in this process as root under both isolations (bubblewrap
where it works, and the namespaces fallback): each is scored as failing with its reason, and
the caller goes on. What each isolation contains is in test_contained.py."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from lbt.sandbox import Limits, run_program
from lbt.sandbox.bubblewrap import bwrap_works
from lbt.sandbox.isolation import can_switch_uid, lease_uid

pytestmark = pytest.mark.skipif(not can_switch_uid(), reason="the sandbox's uid isolation needs root (CAP_SETUID)")

READ_ONLY = "exception: OSError: [Errno 30] Read-only file system"
FAST = Limits(timeout_s=2.0, memory_mb=256, max_procs=8, output_bytes=1 << 16)


@pytest.fixture(scope="module", params=["bubblewrap", "namespaces"])
def uid(request):
    """A leased uid, with the isolation the runs of the test use."""
    if request.param == "bubblewrap" and not bwrap_works(True):
        pytest.skip("bwrap is missing or cannot create namespaces here")
    lease = lease_uid()
    yield Leased(lease.uid, request.param)
    lease.release()


@dataclass(frozen=True)
class Leased:
    uid: int
    isolation: str


def run(code: str, leased: Leased, tests=("assert True",), entry_point=None, limits=FAST):
    return run_program(textwrap.dedent(code), list(tests), entry_point, limits, leased.uid, leased.isolation)


def test_memory_bomb(uid):
    result = run("hog = bytearray(4 << 30)\n", uid)
    assert not result.passed and result.reason == "memory"
    result = run("hog = []\nwhile True:\n    hog.append(' ' * (1 << 20))\n", uid)
    assert not result.passed and result.reason == "memory"


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
    assert not result.passed and result.reason.startswith(("exception: PermissionError", READ_ONLY)), result
    assert victim.read_text() == "keep me"
    assert not Path("/etc/lbt-sandbox-pwned").exists() and Path("/etc/hostname").exists()


def test_writes_inside_its_own_directory_work(uid):
    result = run("open('scratch.txt', 'w').write('ok')\nback = open('scratch.txt').read()\n", uid,
                 tests=["assert back == 'ok'"])
    assert result.passed, result


def test_cannot_signal_its_parent(uid):
    result = run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", uid)
    assert not result.passed and result.reason.startswith("exception: PermissionError")
    result = run(f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)\n", uid)
    # under bubblewrap the caller is outside the run's pid namespace: no such process there
    assert not result.passed and result.reason.startswith(("exception: PermissionError", "exception: ProcessLookupError"))


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


def test_failing_assert_is_named_and_counted(uid):
    result = run("def f(x):\n    return x + 1\n", uid, tests=["assert f(1) == 2", "assert f(2) == 4", "assert f(3) == 4"])
    assert not result.passed and result.reason == "assertion"
    assert result.failing_test == "assert f(2) == 4" and result.test_results == [True, False, True]
    assert result.pass_rate == pytest.approx(2 / 3)


def test_setup_failure_fails_the_tests_after_it(uid):
    result = run("x = 1\n", uid, tests=["assert x == 1", "y = 1 / 0", "assert True"])
    assert not result.passed and result.test_results == [True, False]
    assert result.reason.startswith("test setup failed: exception: ZeroDivisionError")
