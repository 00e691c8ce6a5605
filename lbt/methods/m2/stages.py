"""M2's stages after the teaching core has run on the training split: pairs and evaluation (DPO,
with its heavy imports, in `train_stage`).

- `pairs_stage`: LbT scores of the training TRs (students pooled), both pair sets for every
  training seed, and how they differ.
- `evaluate_stage`: greedy accuracy of the original and every tuned teacher on held-out problems.
"""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.methods.m2 import plots
from lbt.methods.m2.config import PAIR_SETS, m2_students
from lbt.methods.m2.evaluate import ORIGINAL, accuracy_summary, greedy_answers, tuned_model
from lbt.methods.m2.pairs import all_pairs, candidates, pair_differences, scored_rationales, with_reference_flags
from lbt.tables import write_json, write_table
from lbt.tasks.make import make_task
from lbt.teaching.scores import lbt_scores

SPLIT = "train"


def pairs_stage(params: Params) -> pl.DataFrame:
    teacher = params.m2.teacher
    exams = pl.concat([pl.read_parquet(paths.exams(teacher, s, SPLIT)) for s in m2_students(params)])
    write_table(lbt_scores(exams), paths.lbt_scores(SPLIT))
    scored = scored_rationales(pl.read_parquet(paths.rationales(teacher, SPLIT)), exams)
    pairs = with_reference_flags(all_pairs(candidates(scored), params.m2.pairs, params.m2.seeds),
                                 pl.read_parquet(paths.PROBLEMS))
    write_table(pairs, paths.M2_PAIRS)
    write_json(paths.M2_PAIRS_METRICS, pairs_metrics(scored, pairs, params.m2.seeds))
    return pairs


def pairs_metrics(scored: pl.DataFrame, pairs: pl.DataFrame, seeds: list[int]) -> dict:
    counts = pairs.group_by("pair_set", "seed").len()
    differences = pair_differences(pairs, seeds[0])
    return {
        "training_tps": scored["tp_id"].n_unique(),
        "training_trs": scored.height,
        "pairs": {s: {str(k): n for _, k, n in counts.filter(pl.col("pair_set") == s).sort("seed").iter_rows()}
                  for s in PAIR_SETS},
        f"kinds_seed{seeds[0]}": {s: {kind: {"pairs": n, "only_here": only, "chosen_is_reference": ref}
                                      for _, kind, n, _, only, ref in differences.filter(
                                          pl.col("pair_set") == s).iter_rows()} for s in PAIR_SETS},
    }


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
