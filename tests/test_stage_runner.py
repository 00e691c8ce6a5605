"""What a user sees when params.yaml is wrong, dvc.yaml is stale or a model folder is missing:
one clear line, before any work. Runs the real commands of the generated dvc.yaml."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from lbt.pipeline import generate

REPO = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path, **changes) -> Path:
    """notebooks/, the dvc.yaml of params.yaml, then params.yaml with `changes` (keys joined by `__`),
    as a user edits it after generating dvc.yaml."""
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "dvc.yaml").write_text(generate(tmp_path / "params.yaml"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = params
        for key in parents:
            node = node[key]
        node[leaf] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path


def _command(root: Path, stage: str) -> list[str]:
    cmd = yaml.safe_load((root / "dvc.yaml").read_text())["stages"][stage]["cmd"]
    return [sys.executable, *shlex.split(cmd)[1:]]


def _run(root: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=300)


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def test_check_stops_on_a_typo_in_a_key_no_stage_reads(tmp_path):
    root = _project(tmp_path, toy__student__follow_pro=0)
    proc = _run(root, _command(root, "check"))
    assert proc.returncode == 2
    assert _error_lines(proc) == ["error: params.yaml: unknown key `toy.student.follow_pro`; check its spelling "
                                  "against the documented keys in the README."]
    assert not (root / "reports" / "params_check.json").exists()


def test_check_stops_when_dvc_yaml_is_stale_and_passes_when_current(tmp_path):
    root = _project(tmp_path)
    assert _run(root, _command(root, "check")).returncode == 0
    assert (root / "reports" / "params_check.json").exists()
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["students"]["carol"] = dict(params["students"]["alice"])
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    proc = _run(root, _command(root, "check"))
    assert proc.returncode == 2
    [line] = _error_lines(proc)
    assert "dvc.yaml is out of date with params.yaml" in line and "python -m lbt.pipeline" in line


def test_check_stops_on_a_toy_student_that_names_no_persona(tmp_path):
    root = _project(tmp_path, students__bob__prompt_prefix="carol")
    proc = _run(root, _command(root, "check"))
    assert proc.returncode == 2
    assert _error_lines(proc) == [
        "error: params.yaml: students.bob.prompt_prefix: 'carol' is not a persona of the toy student model; set it "
        "to one of toy.student.personas (alice, bob)."]


def test_bad_params_stop_a_stage_before_any_work(tmp_path):
    root = _project(tmp_path, rationales__num_rationales=0)
    proc = _run(root, _command(root, "rationales-teacher"))
    assert proc.returncode == 2
    assert _error_lines(proc) == [
        "error: params.yaml: `rationales.num_rationales`: Input should be greater than or equal to 1 (got 0)."]
    assert not (root / "reports").exists() and not (root / "data").exists()


def test_missing_model_folder_is_named(tmp_path):
    root = _project(tmp_path, teachers__teacher__path="models/not-trained-yet")
    assert _run(root, _command(root, "prepare")).returncode == 0
    proc = _run(root, _command(root, "rationales-teacher"))
    assert proc.returncode == 1
    [line] = _error_lines(proc)
    assert "Model folder models/not-trained-yet does not exist" in line
    assert "reports/notebooks/rationales-teacher.ipynb" in line  # where the traceback is


def test_unknown_model_name_is_named(tmp_path):
    root = _project(tmp_path)
    args = [sys.executable, "-m", "lbt.stage", "notebooks/teaching/rationales.ipynb", "out.ipynb",
            "--reads", "teachers.gpt5", "-p", "teacher=gpt5"]
    proc = _run(root, args)
    assert proc.returncode == 2
    assert _error_lines(proc) == ["error: params.yaml: `teachers.gpt5` is missing; add it (see the README for its keys)."]
