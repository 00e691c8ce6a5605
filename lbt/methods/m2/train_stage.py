"""M2's DPO stage: the teacher tuned on each pair set for each seed; tuned folders, curves, metrics.
Its own module: torch, transformers, TRL and peft take seconds that the other M2 stages need not pay."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.methods.m2 import plots
from lbt.methods.m2.config import PAIR_SETS, m2_teacher
from lbt.methods.m2.dpo import check_pairs, load_teacher, train_dpo
from lbt.tables import write_json, write_table


def train_stage(params: Params) -> pl.DataFrame:
    """DPO on each pair set for each seed; returns the per-step curves of every run."""
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
