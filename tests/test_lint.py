"""The linter's rules (pyproject's [tool.ruff]) hold over the source, the tests and the scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    pytest.importorskip("ruff", reason="ruff comes with the test extra: pip install -c requirements.lock -e '.[test]'")
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "lbt", "tests", "scripts"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
