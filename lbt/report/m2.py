"""M2's section of the report: the Table-4-style accuracy table, the pair sets and how they
differ, DPO's curves, and pairs where LbT and correctness disagree."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.methods.m2.pairs import KINDS, pair_differences, pair_kind
from lbt.tables import read_json

LABELS = {"original": "Original teacher", "correctness_dpo": "Correctness-DPO", "m2": "M2 (LbT-DPO)"}


def accuracy_table() -> pl.DataFrame:
    """Greedy held-out accuracy (%) per teacher, mean ± std over training seeds (cf. the paper's Table 4)."""
    metrics, pairs = read_json(paths.M2_METRICS), read_json(paths.M2_PAIRS_METRICS).get("pairs", {})
    rows = [{"teacher": label, "accuracy": 100 * metrics[key]["mean"], "std": 100 * metrics[key]["std"],
             "seeds": metrics[key]["n_seeds"] or None,  # the original teacher is not trained
             "pairs per seed": sum(pairs[key].values()) / len(pairs[key]) if pairs.get(key) else None}
            for key, label in LABELS.items() if key in metrics]
    return pl.DataFrame(rows)


def heldout_note() -> str:
    metrics = read_json(paths.M2_METRICS)
    return (f"Greedy accuracy (%) on {metrics.get('n_problems', '?')} held-out problems "
            f"(`{metrics.get('problems', '?')}`); mean ± std over the training seeds.")


def differences_table(seed: int) -> pl.DataFrame:
    """The pairs of each set by kind (first seed), with how many the other set shares."""
    table = pair_differences(pl.read_parquet(paths.M2_PAIRS), seed)
    return table.with_columns(kind=pl.col("kind").replace_strict(KINDS, default=pl.col("kind")))


def disagreements(seed: int, n: int = 6) -> pl.DataFrame:
    """M2 pairs whose two TAs are both correct or both wrong (correctness cannot order them), with
    both sides' LbT scores; pairs of distinct TPs first."""
    pairs = pl.read_parquet(paths.M2_PAIRS).filter(pair_set="m2", seed=seed).with_columns(kind=pair_kind())
    shown = pairs.filter(pl.col("kind").is_in(["both_correct", "both_wrong"])).unique("tp_id", keep="first",
                                                                                       maintain_order=True)
    return shown.head(n).select(
        "tp_id", "kind", chosen=pl.col("chosen_text"), chosen_lbt=pl.col("chosen_lbt"),
        rejected=pl.col("rejected_text"), rejected_lbt=pl.col("rejected_lbt"),
        both_correct=pl.col("chosen_correct"))
