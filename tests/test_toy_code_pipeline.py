"""Code M1 end to end in the toy-code world (params/toy-code.yaml) on a micro profile: `dvc repro`
in a temp copy of the repo trains the tiny teacher and student, whose programs run in the
sandbox; self-debugged teacher and student are reported beside the plain ones."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from test_pipeline_e2e import _set, copy_project, ran_stages, run

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

MICRO = {
    "toy.world.n_verbs": 6, "toy_code.groups.n_groups": 3, "toy_code.groups.group_size": 3,
    "toy.train.n_layer": 1, "toy.train.n_embd": 32, "toy.train.n_head": 2, "toy.train.steps": 40,
    "toy.train.batch_size": 16, "toy.train.warmup_steps": 5, "rationales.num_rationales": 3,
    "selection.resample_sizes": [1, 3], "selection.resample_trials": 3,
}
STAGES = {"check", "prepare", "train_toy", "rationales-teacher", "exams-teacher__student",
          "exams-teacher+debug__student", "scores", "select", "select_code", "report"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("lbt-toy-code")
    copy_project(root)
    params = yaml.safe_load((REPO / "params" / "toy-code.yaml").read_text())
    for key, value in MICRO.items():
        _set(params, key, value)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(root, "python", "-m", "lbt.pipeline")
    for cmd in (("git", "init", "-q", "-b", "main"), ("git", "add", "-A"), ("git", "commit", "-qm", "toy code")):
        run(root, *cmd)
    proc = run(root, "dvc", "repro")
    return root, proc.stdout + proc.stderr


def test_toy_code_pipeline_runs_every_stage(project):
    root, log = project
    assert ran_stages(__import__("subprocess").CompletedProcess([], 0, log, "")) == STAGES
    problems = pl.read_parquet(root / "data" / "problems.parquet")
    assert problems.height == 9 and set(problems["role"]) == {"tp"}
    scores = pl.read_parquet(root / "data" / "teaching" / "eval" / "lbt_scores.parquet")
    assert set(scores["teacher"]) == {"teacher", "teacher+debug"}
    assert set(scores["student"]) == {"student", "student+debug"}
    assert scores.height == 9 * 3 * 4 and scores["n_exams"].unique().to_list() == [2]  # 2 other problems per group


def test_revisions_replace_only_failing_answers(project):
    root, _ = project
    plain = pl.read_parquet(root / "data" / "teaching" / "eval" / "rationales" / "teacher.parquet")
    debugged = pl.read_parquet(root / "data" / "teaching" / "eval" / "rationales" / "teacher+debug.parquet")
    joined = plain.join(debugged, on=["tp_id", "sample"], suffix="_debug")
    assert joined.height == plain.height
    kept = joined.filter(~pl.col("revised"))
    assert kept["correct"].all() and (kept["text"] == kept["text_debug"]).all()  # passing TAs stay
    assert (~joined.filter(pl.col("revised"))["correct"]).all()  # only failing TAs were revised
    exams = pl.read_parquet(root / "data" / "teaching" / "eval" / "exams" / "teacher__student+debug.parquet")
    assert set(exams["student"]) == {"student+debug"}
    assert exams.filter(~pl.col("revised"))["correct"].all()  # an exam answer not revised had passed


def test_code_table_has_every_measure_for_every_pair(project):
    root, _ = project
    metrics = json.loads((root / "reports" / "metrics" / "select_code.json").read_text())
    pairs = {(t, s) for t, by in metrics["s_score"].items() for s in by}
    assert pairs == {(t, s) for t in ("teacher", "teacher+debug") for s in ("student", "student+debug")}
    for t, s in pairs:
        values = metrics["s_score"][t][s]
        assert set(values) == {"greedy", "avg_all", "m1_max", "avg_v1", "m1_max_v1", "best"}
        assert 0 <= values["m1_max"] <= values["best"] <= 1 and metrics["n_tp"][t][s] == 9
    html = (root / "reports" / "report.html").read_text()
    assert "Mean S-score" in html and "teacher+debug" in html
