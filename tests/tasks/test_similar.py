"""Exams by similarity: all-MiniLM-L6-v2 loaded by path, its embedding cache, the toy and math pools,
and the math exams stage with similar exams against a fake OpenAI-compatible server (a test
double for a model API: no model runs here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from lbt import paths
from lbt.tasks.base import POOL_ROLE, SPLITS
from lbt.tasks.similar import Embedder, model_path, similar_exams
from lbt.toy.task import ToyTask
from lbt.toy.config import ToyParams, ToyProblemsConfig, ToyWorldConfig

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO.parent / "shared" / "datasets"


def test_the_model_is_the_packaged_folder_and_its_embeddings_mean_something(tmp_path):
    assert (model_path() / "model.safetensors").is_file()
    embedder = Embedder(tmp_path / "e.sqlite")
    v = embedder.embed(["How many vertical asymptotes does the graph of y = 2/(x^2+x-6) have?",
                        "Find the number of vertical asymptotes of the function f(x) = 1/(x^2 - 4).",
                        "The recipe needs three eggs and a cup of flour."])
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    again = Embedder(tmp_path / "e.sqlite")
    assert np.array_equal(again.embed(["The recipe needs three eggs and a cup of flour."])[0], v[2])
    assert again._model is None  # read from the cache: the model was never loaded


def test_toy_pool_holds_other_families_and_nearest_problems_share_verbs(tmp_path):
    task = ToyTask(ToyParams(world=ToyWorldConfig(n_verbs=6), problems=ToyProblemsConfig(
        n_tp=8, n_ep=3, n_train_families=3, n_pool_families=12)))
    problems = task.load_problems()
    without = ToyTask(ToyParams(world=ToyWorldConfig(n_verbs=6), problems=ToyProblemsConfig(
        n_tp=8, n_ep=3, n_train_families=3))).load_problems()
    assert problems.filter(pl.col("role") != POOL_ROLE).equals(without)  # a pool changes no other problem
    pool = problems.filter(pl.col("role") == POOL_ROLE)
    assert pool.height == 12 * 3 and not set(pool["family_id"]) & set(without["family_id"])
    k = 3
    sets = similar_exams(problems, SPLITS["eval"], k, Embedder(tmp_path / "e.sqlite"))
    assert sets.group_by("tp_id").len()["len"].to_list() == [k] * 8
    assert set(sets["ep_id"]) <= set(pool["problem_id"])
    assert sets.group_by("tp_id", maintain_order=True).agg(ok=pl.col("distance").diff().drop_nulls().ge(0).all())[
        "ok"].all()
    all_pairs = similar_exams(problems, SPLITS["eval"], pool.height, Embedder(tmp_path / "e.sqlite"))

    def shared(df: pl.DataFrame) -> float:
        verbs = lambda pid: set(pid.removeprefix("pool:").split("#")[0].split("-"))  # noqa: E731
        return float(np.mean([len(verbs(t) & verbs(e)) for t, e in df.select("tp_id", "ep_id").iter_rows()]))
    assert shared(sets) > shared(all_pairs)  # the nearest pool problems share more of the TP's verbs


def test_similar_exams_without_a_pool_stop_with_one_sentence(tmp_path):
    problems = ToyTask(ToyParams(world=ToyWorldConfig(n_verbs=6), problems=ToyProblemsConfig(
        n_tp=4, n_ep=2, n_train_families=1))).load_problems()
    with pytest.raises(ValueError, match="n_pool_families or math.pool"):
        similar_exams(problems, SPLITS["eval"], 3, Embedder(tmp_path / "e.sqlite"))


@pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets absent")
def test_math_pool_is_the_math_test_set_outside_math500():
    from lbt.tasks.math.data import load_problems

    problems = load_problems(DATASETS, pool=True)
    pool = problems.filter(pl.col("role") == POOL_ROLE)
    assert pool.height == 4500 and pool["answer"].is_not_null().all()
    tp_ids = {f"pool:{i}" for i in problems.filter(pl.col("role") == "tp")["problem_id"]}
    assert not tp_ids & set(pool["problem_id"]) and problems["problem_id"].is_unique().all()
    assert problems.filter(pl.col("role") != POOL_ROLE).equals(load_problems(DATASETS))


@pytest.mark.slow
@pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets absent")
def test_math_exams_by_similarity_on_a_fake_server(tmp_path, monkeypatch):
    """The exams stage with `exam.maker: similar` on real MATH problems: 20 TPs and the first 200
    problems of the pool (embedding all 4,681 takes about 12 minutes on one core)."""
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from openai_fake_server import FakeOpenAIServer
    from test_math_pipeline import math_answer

    from lbt.config import parse_params
    from lbt.tables import write_table
    from lbt.tasks.math.data import load_problems
    from lbt.teaching.stages import exams

    monkeypatch.chdir(tmp_path)
    problems = load_problems(DATASETS, pool=True)
    problems = pl.concat([problems.filter(pl.col("role") == "tp").head(20),
                          problems.filter(pl.col("role") == POOL_ROLE).head(200)])
    write_table(problems, paths.PROBLEMS)
    tps = problems.filter(pl.col("role") == "tp")
    write_table(tps.select(tp_id="problem_id", teacher=pl.lit("t"), sample=pl.lit(0, pl.Int64),
                           text=pl.lit("We compute.\n\n[[Final Answer]]:\n$2$")), paths.rationales("t"))
    with FakeOpenAIServer(api_key="k", text_for=math_answer) as server:
        raw = {"task": "math", "math": {"raw_dir": str(DATASETS), "pool": True}, "seed": 0,
               "cache_path": ".cache/generations.sqlite", "exam": {"maker": "similar", "k": 2, "max_tokens": 64},
               "students": {"s": {"backend": "openai", "model": "s", "chat": True, "base_urls": [server.v1_url],
                                  "api_key_env": "LBT_TEST_KEY"}}}
        monkeypatch.setenv("LBT_TEST_KEY", "k")
        table = exams(parse_params(raw, ["task", "math", "seed", "cache_path", "students.s", "exam"]), "t", "s")
    role = dict(zip(problems["problem_id"], problems["role"]))
    assert table.height == 20 * 2 and {role[e] for e in table["ep_id"]} == {POOL_ROLE}
    assert table["grade"].is_not_null().all() and table["grade"].is_between(0, 1).all()
