"""The whole pipeline as a user runs it: `dvc repro` in a temp copy of the repo, micro sizes.

One module-scoped run, then checks of what DVC reruns and what the cache saves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

MICRO = {
    "toy.world.n_verbs": 6, "toy.world.n_tp": 10, "toy.world.n_ep": 2, "toy.world.n_train_families": 4,
    "toy.train.n_layer": 1, "toy.train.n_embd": 32, "toy.train.n_head": 2, "toy.train.steps": 40,
    "toy.train.batch_size": 16, "toy.train.warmup_steps": 5, "rationales.num_rationales": 4,
    "selection.resample_sizes": [1, 2, 4], "selection.resample_trials": 5,
}


def _set(tree: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree[key]
    tree[leaf] = value


def _env() -> dict:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # `python` = this venv
    return env


def run(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def ran_stages(proc: subprocess.CompletedProcess) -> set[str]:
    out = proc.stdout + proc.stderr
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage '")}


def _is_run_artifact(rel: str) -> bool:
    """What a `dvc repro` in the developer's workspace leaves: not part of a fresh clone."""
    return rel == "dvc.lock" or (rel.startswith(("data/", "reports/")) and not rel.endswith("README.md"))


def copy_project(dest: Path) -> None:
    """The repo's files as a fresh clone would have them (plus uncommitted source changes)."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (REPO / rel).is_file() and not _is_run_artifact(rel):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lbt")
    copy_project(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    for key, value in MICRO.items():
        _set(params, key, value)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(root, "git", "init", "-q", "-b", "main")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "micro profile")
    first = run(root, "dvc", "repro")
    (root / "first_repro.log").write_text(first.stdout + first.stderr)
    return root


def metrics(root: Path, name: str) -> dict:
    return json.loads((root / "reports" / "metrics" / f"{name}.json").read_text())


def test_repro_runs_every_stage_and_writes_results(project):
    log = (project / "first_repro.log").read_text()
    assert ran_stages(subprocess.CompletedProcess([], 0, log, "")) == {
        "prepare", "train_teacher", "train_student", "rationales@teacher", "exams@teacher-student", "scores",
        "select", "report"}
    sel = metrics(project, "selection")
    accuracy = sel["accuracy"]["teacher"]["student"]
    assert set(accuracy) == {"greedy", "sc", "m1_max", "m1_sum", "m1_avg"}
    assert all(0 <= v <= 1 for v in accuracy.values())
    assert metrics(project, "rationales_teacher")["generations"]["requested"] == 10 * 4 + 10
    assert metrics(project, "exams_teacher__student")["n_exam_answers"] == 10 * 4 * 2
    for nb in ("01_prepare", "02_train_toy_teacher", "03_rationales_teacher", "04_exams_teacher__student",
               "06_select", "07_report"):
        executed = json.loads((project / "reports" / f"{nb}.ipynb").read_text())
        assert any(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code"), nb
    html = (project / "reports" / "report.html").read_text()
    assert "M1-MAX" in html and "<img" in html
    assert (project / "reports" / "figures" / "accuracy_vs_n.png").stat().st_size > 1000


def test_second_repro_runs_nothing(project):
    proc = run(project, "dvc", "repro")
    assert ran_stages(proc) == set()
    assert "up to date" in run(project, "dvc", "status").stdout


def test_selection_param_reruns_only_selection_and_report(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["selection"]["resample_trials"] = 6
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran_stages(run(project, "dvc", "repro")) == {"select", "report"}
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-qm", "baseline for experiments")


def test_exp_run_set_param_shows_in_exp_show_and_metrics_diff(project):
    proc = run(project, "dvc", "exp", "run", "-S", "selection.methods=[greedy,sc,m1_max]")
    assert ran_stages(proc) == {"select", "report"}
    diff = json.loads(run(project, "dvc", "metrics", "diff", "--json").stdout)
    changed = diff["reports/metrics/selection.json"]
    assert "accuracy.teacher.student.m1_sum" in changed and changed["accuracy.teacher.student.m1_sum"]["new"] is None
    shown = run(project, "dvc", "exp", "show", "--json").stdout
    assert "resample_trials" in shown and "m1_max" in shown


def test_more_rationales_reuse_cached_generations(project):
    before = metrics(project, "rationales_teacher")["generations"]
    proc = run(project, "dvc", "exp", "run", "-S", "rationales.num_rationales=8")
    assert {"rationales@teacher", "exams@teacher-student", "scores", "select", "report"} <= ran_stages(proc)
    assert not {"prepare", "train_teacher", "train_student"} & ran_stages(proc)
    after = metrics(project, "rationales_teacher")["generations"]
    assert before["requested"] == 10 * 4 + 10
    assert after["requested"] == 10 * 8 + 10
    assert after["generated"] == 10 * 4  # only samples 4..7; the first 4 and the greedy ones are cached
    exams = metrics(project, "exams_teacher__student")["generations"]
    assert exams["cached"] > 0
