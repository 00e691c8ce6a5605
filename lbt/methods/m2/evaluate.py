"""Greedy accuracy of the original and the tuned teachers on held-out problems, through the
engine layer (and its request cache) as every other generation: a tuned teacher is the original
teacher's model entry with its own folder."""

from __future__ import annotations

import statistics

import polars as pl

from lbt.engines.config import ModelConfig
from lbt.engines.registry import make_engine
from lbt.methods.m2.config import PAIR_SETS
from lbt.tasks.base import Task
from lbt.teaching.config import RationaleParams
from lbt.teaching.rationales import rationale_table, teacher_requests

ORIGINAL = "original"


def tuned_model(model: ModelConfig, name: str, folder: str) -> ModelConfig:
    """The teacher's model entry pointing at a tuned folder, under its own name."""
    return model.model_copy(update={"path": folder, "name": name})


def greedy_answers(task: Task, model: ModelConfig, problems: pl.DataFrame, max_tokens: int, seed: int,
                   cache_path: str | None) -> pl.DataFrame:
    """One greedy rationale per problem, graded (the rationales table's columns)."""
    greedy = RationaleParams(num_rationales=1, temperature=0.0, max_tokens=max_tokens)
    requests = teacher_requests(task, problems, model.chat, greedy, 1, 0.0, seed)
    with make_engine(model, cache_path) as engine:
        outputs = engine.generate(requests, desc=f"greedy {model.name}")
    return rationale_table(task, model.name, problems, requests, outputs)


def accuracy_summary(results: pl.DataFrame) -> dict:
    """{original, correctness_dpo, m2}: greedy accuracy as mean and std over training seeds, and
    per seed (the original teacher has no seed: std 0)."""
    per_run = results.group_by("variant", "seed").agg(accuracy=pl.col("correct").mean()).sort("variant", "seed")
    summary = {}
    for variant in (ORIGINAL, *PAIR_SETS):
        runs = per_run.filter(pl.col("variant") == variant)
        values = runs["accuracy"].to_list()
        if not values:
            continue
        summary[variant] = {
            "mean": round(statistics.fmean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
            "n_seeds": len(values) if variant != ORIGINAL else 0,
            "per_seed": {str(s): round(a, 4) for s, a in runs.select("seed", "accuracy").iter_rows()}
            if variant != ORIGINAL else {},
        }
    return summary
