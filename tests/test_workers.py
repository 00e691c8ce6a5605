"""The generic deadline-bounded worker pool (lbt/workers.py), with a tiny fake worker."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lbt.workers import WorkerPool

FAKE_WORKER = textwrap.dedent(
    """
    import json, sys, time
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        for item in request["items"]:
            if item == "slow":
                time.sleep(60)
            reply = item.upper() if request["op"] == "upper" else [item, len(item)]
            print(json.dumps(reply), flush=True)
    """
)


@pytest.fixture
def command(tmp_path: Path) -> list[str]:
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    return [sys.executable, str(script)]


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_replies_come_back_in_order(command: list[str]) -> None:
    items = [f"item{i}" for i in range(300)]
    with WorkerPool(command, n_workers=3, timeout_s=10) as pool:
        assert pool.run("upper", items, on_timeout=None) == [i.upper() for i in items]
        assert pool.run("length", ["ab", "c"], on_timeout=None) == [["ab", 2], ["c", 1]]
        assert pool.run("upper", [], on_timeout=None) == []
        assert len(pool.pids()) == 3 and pool.timeouts == 0


def test_routing_sends_equal_keys_to_one_worker(command: list[str]) -> None:
    with WorkerPool(command, n_workers=4, timeout_s=10) as pool:
        items = [f"x{i}" for i in range(40)]
        assert pool.run("upper", items, on_timeout=None, route=lambda item: "same") == [i.upper() for i in items]
        assert len(pool.pids()) == 1


def test_a_worker_that_overruns_its_deadline_is_replaced(command: list[str]) -> None:
    with WorkerPool(command, n_workers=1, timeout_s=0.5) as pool:
        assert pool.run("upper", ["warm"], on_timeout="TIMEOUT") == ["WARM"]
        first_pid = pool.pids()[0]
        start = time.monotonic()
        assert pool.run("upper", ["a", "slow", "b"], on_timeout="TIMEOUT") == ["A", "TIMEOUT", "B"]
        assert time.monotonic() - start < 30
        assert pool.timeouts == 1
        assert pool.pids() and pool.pids()[0] != first_pid and not _running(first_pid)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc to see processes")
def test_close_kills_the_processes(command: list[str]) -> None:
    pool = WorkerPool(command, n_workers=2, timeout_s=10)
    pool.run("upper", [f"i{i}" for i in range(20)], on_timeout=None)
    pids = pool.pids()
    assert len(pids) == 2 and all(_running(pid) for pid in pids)
    pool.close()
    assert pool.pids() == [] and not any(_running(pid) for pid in pids)
    assert pool.run("upper", ["again"], on_timeout=None) == ["AGAIN"]  # a later run starts fresh ones
    pool.close()


def test_a_worker_that_does_not_start_is_reported(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("raise SystemExit(1)\n")
    with WorkerPool([sys.executable, str(script)], n_workers=1, timeout_s=1) as pool:
        with pytest.raises(RuntimeError, match="did not start"):
            pool.run("upper", ["a"], on_timeout=None)
    with pytest.raises(ValueError, match="n_workers"):
        WorkerPool([sys.executable], n_workers=0, timeout_s=1)
    assert os.path.exists(script)
