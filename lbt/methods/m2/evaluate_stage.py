"""M2's evaluation stage: greedy accuracy of the original and every tuned teacher on held-out problems."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.methods.m2 import plots
from lbt.methods.m2.config import PAIR_SETS
from lbt.methods.m2.evaluate import ORIGINAL, accuracy_summary, greedy_answers, tuned_model
from lbt.tables import write_json, write_table
from lbt.tasks.make import make_task


def evaluate_stage(params: Params) -> dict:
    """Greedy held-out accuracy of the original teacher and of every tuned one; the M2 metrics."""
    name = params.m2.teacher
    model = params.teachers[name]
    variants = [(ORIGINAL, None, model)] + [
        (s, seed, tuned_model(model, f"{name}+{paths.m2_run(s, seed)}", str(paths.m2_model(s, seed))))
        for seed in params.m2.seeds for s in PAIR_SETS]
    with make_task(params) as task:
        problems = task.held_out_problems(pl.read_parquet(paths.PROBLEMS), params.m2.evaluate.problems)
        tables = [greedy_answers(task, m, problems, params.m2.evaluate.max_tokens, params.seed, params.cache_path)
                  .with_columns(variant=pl.lit(v), seed=pl.lit(seed, dtype=pl.Int64)) for v, seed, m in variants]
    results = pl.concat(tables).select("variant", "seed", pl.exclude("variant", "seed"))
    write_table(results, paths.M2_EVALUATION)
    summary = accuracy_summary(results)
    write_json(paths.M2_METRICS, {**summary, "n_problems": problems.height,
                                  "problems": params.m2.evaluate.problems})
    plots.write_accuracy(summary)
    return summary
