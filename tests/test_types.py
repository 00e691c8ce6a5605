"""The type checker (pyproject's [tool.mypy]: the modules that load params and compose the pipeline) finds nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_nothing():
    pytest.importorskip("mypy", reason="mypy comes with the test extra: pip install -c requirements.lock -e '.[test]'")
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
