"""M2's pairs stage, after the teaching core has run on the training split (DPO in `train_stage`,
the evaluation in `evaluate_stage`: each stage module imports only what its stage runs).

- `pairs_stage`: LbT scores of the training TRs (students pooled), both pair sets for every
  training seed, and how they differ.
"""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.methods.m2.config import PAIR_SETS, m2_students
from lbt.methods.m2.pairs import all_pairs, candidates, pair_differences, scored_rationales, with_reference_flags
from lbt.tables import write_json, write_table
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
