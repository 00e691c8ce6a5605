"""M1's gain over SC when exams are the nearest problems of a pool instead of functional variants,
against the TP's distance to its exam problems (the paper's analysis), on the toy world.

    PYTHONPATH=. python scripts/similar_gain.py [--pool-families 30] [--k 3]

Needs a default toy run's outputs (data/models, data/teaching/eval/rationales/teacher.parquet,
from `dvc repro`). The TPs and TRs are the run's; the pool is `--pool-families` other verb chains
(3 problems each). The student sits three exams per TR, through the request cache: the TP's
functional variants (the default), its `k` nearest pool problems by all-MiniLM-L6-v2 embedding,
and its `k` farthest. M1-SUM and SC are picked with the project's exact rules; the TPs of the
nearest-pool exam are binned by the mean cosine distance to their exam problems, and by how many
of the TP's verbs those problems share (what lets a student follow the TR at all).
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl
import torch
import yaml

from lbt import paths
from lbt.config import parse_params
from lbt.engines.registry import make_engine
from lbt.methods.m1.config import Method
from lbt.methods.m1.select import exact_numerators, select
from lbt.tasks.base import SPLITS
from lbt.tasks.similar import Embedder, POOL_ROLE
from lbt.toy.task import ToyTask
from lbt.teaching.exams import exam_pairs, run_exam
from lbt.teaching.scores import lbt_scores

KEYS = ["tp_id"]


def exam_accuracy(task, engine, problems, rationales, sets, params) -> pl.DataFrame:
    """Per TP: SC's and M1-SUM's correctness with the exam `sets`."""
    questions = problems.select("problem_id", "question")
    pairs = (rationales.select("tp_id", "teacher", "sample", "text").join(sets.select("tp_id", "ep_id"), on="tp_id")
             .join(questions.rename({"problem_id": "tp_id", "question": "tp_question"}), on="tp_id")
             .join(questions.rename({"problem_id": "ep_id", "question": "ep_question"}), on="ep_id")
             .sort("tp_id", "sample", "ep_id"))
    exams = run_exam(task, engine, False, problems, pairs, params.exam, params.seed)
    cands = rationales.join(lbt_scores(exams), on=["tp_id", "teacher", "sample"]).with_columns(
        group=pl.col("answer").str.strip_chars())
    picked = select(exact_numerators(cands, KEYS), KEYS, [Method.SC, Method.M1_SUM])
    return picked.pivot("method", index="tp_id", values="correct")


def pool_sets(problems: pl.DataFrame, k: int, embedder: Embedder) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(k nearest, k farthest) pool problems of every TP, with their cosine distance."""
    tps = problems.filter(pl.col("role") == "tp")
    pool = problems.filter(pl.col("role") == POOL_ROLE).sort("problem_id")
    distance = 1 - embedder.embed(tps["question"].to_list()) @ embedder.embed(pool["question"].to_list()).T
    order = np.argsort(distance, axis=1, kind="stable")
    out = []
    for columns in (order[:, :k], order[:, -k:]):
        out.append(pl.DataFrame([(tp, pool["problem_id"][int(j)], float(distance[i, j]))
                                 for i, tp in enumerate(tps["problem_id"]) for j in columns[i]],
                                schema=["tp_id", "ep_id", "distance"], orient="row"))
    return out[0], out[1]


def shared_verbs(sets: pl.DataFrame) -> pl.DataFrame:
    """Per TP: the mean number of its verbs that its exam problems share with it."""
    def verbs(pid: str) -> set[str]:
        return set(pid.removeprefix("pool:").split("#")[0].split("-"))
    return sets.with_columns(shared=pl.struct("tp_id", "ep_id").map_elements(
        lambda r: len(verbs(r["tp_id"]) & verbs(r["ep_id"])), return_dtype=pl.Int64)).group_by("tp_id").agg(
        distance=pl.col("distance").mean(), shared=pl.col("shared").mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool-families", type=int, default=30)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    raw = yaml.safe_load(paths.PARAMS.read_text())
    raw["toy"]["problems"]["n_pool_families"] = args.pool_families
    params = parse_params(raw, ["toy.world", "toy.problems", "seed", "cache_path", "students", "exam"])
    task = ToyTask(params.toy)
    problems = task.load_problems()
    rationales = pl.read_parquet(paths.rationales("teacher"))
    near, far = pool_sets(problems, args.k, Embedder(paths.embeddings_cache(params.cache_path)))
    variants = exam_pairs(task, problems, rationales, SPLITS["eval"], None).select("tp_id", "ep_id").unique()
    rows = []
    with make_engine(next(iter(params.students.values())), params.cache_path) as engine:
        for name, sets in (("variants", variants), (f"{args.k} nearest of pool", near), (f"{args.k} farthest", far)):
            acc = exam_accuracy(task, engine, problems, rationales, sets, params)
            rows.append({"exam": name, "sc": acc["sc"].mean(), "m1_sum": acc["m1_sum"].mean(),
                         "gain": acc["m1_sum"].mean() - acc["sc"].mean(),
                         "distance": sets["distance"].mean() if "distance" in sets.columns else 0.0})
            if sets is near:
                per_tp = shared_verbs(near).join(acc, on="tp_id")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, float_precision=3):
        print(f"toy world, {problems.filter(pl.col('role') == 'tp').height} TPs, pool of "
              f"{problems.filter(pl.col('role') == POOL_ROLE).height} problems; accuracy and gain as fractions")
        print(pl.DataFrame(rows))
        binned = per_tp.with_columns(distance_bin=pl.col("distance").qcut(3, labels=["near", "middle", "far"]),
                                     shared_verbs=pl.col("shared").round(0))
        for by in ("distance_bin", "shared_verbs"):
            print(binned.group_by(by).agg(TPs=pl.len(), mean_distance=pl.col("distance").mean(),
                                          mean_shared=pl.col("shared").mean(), sc=pl.col("sc").mean(),
                                          m1_sum=pl.col("m1_sum").mean(),
                                          gain=(pl.col("m1_sum").cast(pl.Float64) - pl.col("sc")).mean())
                  .sort("mean_distance"))


if __name__ == "__main__":
    main()
