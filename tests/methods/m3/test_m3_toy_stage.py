"""The M3 stage on the toy task with a real tiny teacher and student trained in the test session
(mechanics, not skill): tables, metrics, the figure, paired settings, and the request cache: a
killed stage resumes, a rerun generates nothing, and results do not depend on the interruption."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import polars as pl
import pytest
import yaml

from lbt import paths
from lbt.config import ParamsError, load_params
from lbt.engines.base import GenerationRequest, derive_seed
from lbt.engines.engine import Engine
from lbt.engines.registry import make_engine
from lbt.methods.m3.stages import m3_stage, split_items
from lbt.tasks.base import SPLITS
from lbt.toy.task import ToyTask
from lbt.tasks.prepare import prepare

READS = ["task", "seed", "cache_path", "teachers", "students", "m3"]
M3 = {"operator": "toy", "init": "teacher", "metric": "accuracy", "beam": 2, "exemplars": 2, "iterations": 2,
      "minibatch": 4, "reflections": 2, "failures": 2, "proposals": 2, "children": 3, "score_sample": 6,
      "heldout": 8, "runs": 2, "settings": {"self": ["teacher"], "other": ["student"], "both": ["teacher", "student"]}}


def _project(root: Path, teacher: Path, student: Path, cache: str, **m3) -> Path:
    params = {"task": "toy", "seed": 0, "cache_path": cache,
              "toy": {"world": {"n_verbs": 6}, "problems": {"n_tp": 6, "n_ep": 2, "n_train_families": 6}},
              "teachers": {"teacher": {"backend": "hf", "path": str(teacher), "batch_size": 64}},
              "students": {"student": {"backend": "hf", "path": str(student), "batch_size": 64}},
              "m3": {**M3, **m3}}
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def _stage(root: Path) -> dict:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        if not paths.PROBLEMS.exists():
            prepare(load_params("params.yaml", ["task", "toy.world", "toy.problems"]))
        return m3_stage(load_params("params.yaml", READS))
    finally:
        os.chdir(cwd)


def _tables(root: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(root / paths.m3_table(name)) for name in paths.M3_TABLES}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, tiny_teacher, tiny_student):
    root = _project(tmp_path_factory.mktemp("m3-fresh"), tiny_teacher, tiny_student, "cache.sqlite")
    return root, _stage(root)


def test_tables_metrics_and_figure(fresh):
    root, metrics = fresh
    tables = _tables(root)
    scores = tables["scores"]
    assert scores.height == 3 * 2 * 3 * 2  # settings × runs × iterations 0..2 × (train, heldout)
    assert set(metrics["heldout"]) == {"self", "other", "both"}
    assert set(metrics["heldout"]["both"]) == {"0", "1", "2"}
    assert metrics["heldout_zero_shot"] == pytest.approx(_greedy_accuracy_without_exemplars(root), abs=5e-5)
    assert set(metrics["vs_self"]) == {"other", "both"} and metrics["vs_self"]["both"]["vs"] == "self"
    first = scores.filter((pl.col("iteration") == 0) & (pl.col("split") == "heldout"))
    assert first.group_by("run").agg(pl.col("score").n_unique())["score"].to_list() == [1, 1]  # paired settings
    sets = tables["sets"]
    assert sets.filter(pl.col("kept")).group_by("setting", "run", "iteration").len()["len"].max() <= 2
    assert set(sets["origin"]) >= {"init", "parent"}
    assert set(tables["failures"].filter(pl.col("setting") == "both")["student"]) <= {"teacher", "student"}
    assert tables["reflections"]["status"].is_in(["ok", "unparsable", "too_few", "duplicate", "over_limit"]).all()
    calls = metrics["calls_per_iteration"]
    assert calls["heldout"] == 8 and calls["selection"] <= (2 + 2 * 3) * 6
    assert (root / paths.figure(paths.M3_FIGURE)).stat().st_size > 1000
    assert json.loads((root / paths.M3_METRICS).read_text())["metric"] == "accuracy"


def test_killed_stage_resumes_and_rerun_generates_nothing(fresh, tmp_path, tiny_teacher, tiny_student, monkeypatch):
    _, full = fresh
    root = _project(tmp_path / "killed", tiny_teacher, tiny_student, "cache.sqlite")
    real, calls = Engine.generate, []

    def dies_on_round_five(self, requests, desc=""):
        calls.append(desc)
        if len(calls) == 5:
            raise KeyboardInterrupt("killed")
        return real(self, requests, desc)

    monkeypatch.setattr(Engine, "generate", dies_on_round_five)
    with pytest.raises(KeyboardInterrupt):
        _stage(root)
    monkeypatch.setattr(Engine, "generate", real)
    resumed = _stage(root)
    generated = sum(g["generated"] for g in resumed["generations"].values())
    assert 0 < generated < sum(g["generated"] for g in full["generations"].values())
    again = _stage(root)
    assert sum(g["generated"] for g in again["generations"].values()) == 0
    for name, table in _tables(root).items():  # same results as the uninterrupted run
        assert table.equals(_tables(fresh[0])[name]), name


def _greedy_accuracy_without_exemplars(root: Path) -> float:
    """The teacher's greedy answers to the held-out items with no exemplars, generated afresh (no
    cache) and graded here: what `heldout_zero_shot` must be."""
    params = load_params(root / "params.yaml", READS)
    items = split_items(pl.read_parquet(root / paths.PROBLEMS), SPLITS["eval"])
    rng = random.Random(derive_seed(params.seed, "m3-heldout"))  # the stage's sample of M3.heldout items
    items = items[sorted(rng.sample(range(items.height), M3["heldout"]))]
    task = ToyTask()
    with make_engine(params.teachers["teacher"], None) as engine:
        outputs = engine.generate([GenerationRequest(**task.teacher_prompt(q, [], chat=False), temperature=0.0,
                                                     max_tokens=48) for q in items["question"]])
    grades = task.grade_many([task.extract_answer(o[0].text) for o in outputs], task.golds(items))
    return sum(grades) / len(grades)


def test_params_errors_name_the_key(tmp_path, tiny_teacher, tiny_student):
    root = _project(tmp_path / "bad", tiny_teacher, tiny_student, "c.sqlite", metric="f1")
    with pytest.raises(ParamsError, match="m3.metric"):
        _stage(root)
    root = _project(tmp_path / "bad2", tiny_teacher, tiny_student, "c.sqlite", settings={"x": ["nobody"]})
    with pytest.raises(ParamsError, match="m3.settings.x"):
        _stage(root)
