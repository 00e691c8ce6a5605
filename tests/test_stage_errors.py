"""What a user sees when params.yaml is wrong or a model folder is missing: one clear line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path, **changes) -> Path:
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = params
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[leaf] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def _stage(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lbt.stage", *args], cwd=root, capture_output=True,
                          text=True, timeout=300)


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def test_bad_params_stop_before_any_work(tmp_path):
    root = _project(tmp_path, rationales__num_rationales=0)
    proc = _stage(root, "prepare")
    assert proc.returncode == 2
    assert _error_lines(proc) == [
        "error: params.yaml: `rationales.num_rationales`: Input should be greater than or equal to 1 (got 0)."]
    assert not (root / "reports").exists() and not (root / "data").exists()


def test_missing_model_folder_is_named(tmp_path):
    root = _project(tmp_path, teachers__teacher__path="models/not-trained-yet")
    assert _stage(root, "prepare").returncode == 0
    proc = _stage(root, "rationales", "--teacher", "teacher")
    assert proc.returncode == 1
    [line] = _error_lines(proc)
    assert "Model folder models/not-trained-yet does not exist" in line
    assert "reports/03_rationales_teacher.ipynb" in line  # where the traceback is


def test_unknown_model_name_is_named(tmp_path):
    proc = _stage(_project(tmp_path), "rationales", "--teacher", "gpt5")
    assert proc.returncode == 2
    assert _error_lines(proc) == ["error: stage rationales needs --teacher NAME, one of: teacher."]
