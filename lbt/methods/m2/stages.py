"""M2's stages after the teaching core has run on the training split: pairs, DPO, evaluation.

- `pairs_stage`: LbT scores of the training TRs (students pooled), both pair sets for every
  training seed, and how they differ.
- `train_stage`: DPO of the teacher on each pair set for each seed; tuned folders, curves.
- `evaluate_stage`: greedy accuracy of the original and every tuned teacher on held-out problems.
"""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.methods.m2 import plots
from lbt.methods.m2.config import PAIR_SETS, m2_students, m2_teacher
from lbt.methods.m2.evaluate import ORIGINAL, accuracy_summary, greedy_answers, tuned_model
from lbt.methods.m2.pairs import all_pairs, candidates, pair_differences, scored_rationales, with_reference_flags
from lbt.tables import write_json, write_table
from lbt.tasks.registry import make_task
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


def train_stage(params: Params) -> pl.DataFrame:
    """DPO on each pair set for each seed; returns the per-step curves of every run."""
    # imported here: torch, transformers, TRL and peft take seconds that the pairs stage need not pay
    from lbt.methods.m2.dpo import check_pairs, load_teacher, train_dpo

    name, model = params.m2.teacher, m2_teacher(params)
    pairs = pl.read_parquet(paths.M2_PAIRS)
    runs = [(pair_set, seed) for seed in params.m2.seeds for pair_set in PAIR_SETS]
    for pair_set, seed in runs:  # every bad input stops here, before the first run trains
        check_pairs(pairs.filter(pair_set=pair_set, seed=seed), pair_set, seed, params.m2.pairs)
    curves = []
    for pair_set, seed in runs:
        policy, tokenizer = load_teacher(model.path, params.m2.dpo, name, model.chat)
        run = train_dpo(pairs.filter(pair_set=pair_set, seed=seed), policy, tokenizer, model.chat, params.m2.dpo,
                        seed, paths.m2_model(pair_set, seed), paths.m2_live(pair_set, seed),
                        desc=f"DPO {paths.m2_run(pair_set, seed)}")
        curves.append(run.with_columns(pair_set=pl.lit(pair_set), seed=pl.lit(seed, dtype=pl.Int64)))
    table = pl.concat(curves).select("pair_set", "seed", pl.exclude("pair_set", "seed"))
    write_table(table, paths.M2_CURVES)
    write_json(paths.M2_TRAIN_METRICS, train_metrics(table))
    plots.write_curves(table)
    return table


def train_metrics(curves: pl.DataFrame) -> dict:
    """Per run: steps, and the first and last logged loss, reward margin and preference accuracy."""
    out: dict = {}
    for (pair_set, seed), run in curves.group_by("pair_set", "seed", maintain_order=True):
        out.setdefault(pair_set, {})[str(seed)] = {
            "steps": run.height,
            **{f"{key}_{end}": round(float(run[col][i]), 4) for key, col in
               (("loss", "loss"), ("margin", "rewards/margins"), ("pref_accuracy", "rewards/accuracies"))
               for end, i in (("first", 0), ("last", -1))},
        }
    return out


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
