"""M1's analyses: accuracy, accuracy against the number of TRs (random subsets), accuracy by
the problems' descriptive columns, and the metrics file's blocks."""

from __future__ import annotations

import polars as pl

from lbt.methods.m1.config import Method, Ties
from lbt.methods.m1.select import select


def accuracy(selections: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    return (
        selections.group_by(by)
        .agg(accuracy=pl.col("correct").cast(pl.Float64).mean(), n=pl.len(),
             no_answer=pl.col("group").is_null().cast(pl.Float64).mean())
        .sort(by)
    )


def resampled_accuracy(candidates: pl.DataFrame, keys: list[str], methods: list[Method],
                       sizes: list[int], trials: int, seed: int, ties: Ties = "first_seen") -> pl.DataFrame:
    """Accuracy when only `n` of the sampled TRs per TP are available: for each n, `trials`
    random subsets (the same subsets for every method), then mean and std over trials."""
    n_max = candidates.group_by(keys).agg(pl.len()).get_column("len").min()
    rows = []
    for n in sorted({min(s, n_max) for s in sizes}):
        subsets = random_subsets(candidates, keys, n, trials, seed)
        picked = select(subsets, [*keys, "trial"], methods, ties)
        rows.append(accuracy(picked, [k for k in keys if k != "tp_id"] + ["method", "trial"]).with_columns(n=pl.lit(n)))
    per_trial = pl.concat(rows)
    group = [k for k in keys if k != "tp_id"] + ["method", "n"]
    return (
        per_trial.group_by(group)
        .agg(mean=pl.col("accuracy").mean(), std=pl.col("accuracy").std(ddof=0), trials=pl.len())
        .sort(group)
    )


def random_subsets(candidates: pl.DataFrame, keys: list[str], n: int, trials: int, seed: int) -> pl.DataFrame:
    """`trials` copies of the candidates, each keeping `n` random TRs per (keys...)."""
    trial_ids = pl.DataFrame({"trial": list(range(trials))}, schema={"trial": pl.Int64})
    rank_key = pl.struct("trial", "tp_id", "sample").hash(seed=seed)
    return (
        candidates.join(trial_ids, how="cross")
        .with_columns(_rank=rank_key.rank("ordinal").over([*keys, "trial"]))
        .filter(pl.col("_rank") <= n)
        .drop("_rank")
    )


def breakdown(picked: pl.DataFrame, problems: pl.DataFrame, columns: tuple[str, ...], tp_role: str) -> pl.DataFrame:
    """Accuracy per method within each value of the problems' descriptive `columns`."""
    info = problems.filter(pl.col("role") == tp_role).select(pl.col("problem_id").alias("tp_id"), *columns)
    joined = picked.join(info, on="tp_id")
    parts = [
        accuracy(joined.with_columns(value=pl.col(c).cast(pl.String)), ["teacher", "student", "method", "value"])
        .with_columns(column=pl.lit(c))
        for c in columns
    ]
    return pl.concat(parts) if parts else pl.DataFrame()


def nested(acc: pl.DataFrame, column: str) -> dict:
    """{teacher: {student: {method: value}}} from an accuracy table."""
    out: dict = {}
    for row in acc.iter_rows(named=True):
        out.setdefault(row["teacher"], {}).setdefault(row["student"], {})[row["method"]] = round(row[column], 4)
    return out


def selection_metrics(acc: pl.DataFrame, cands: pl.DataFrame, keys: list[str]) -> dict:
    """Accuracy and no-answer rate per method, the any-TR-correct oracle, and M1's gain over SC."""
    metrics = {"accuracy": nested(acc, "accuracy"), "no_answer_rate": nested(acc, "no_answer")}
    oracle = cands.group_by(keys).agg(pl.col("correct").any()).group_by("teacher", "student").agg(
        pl.col("correct").mean())
    metrics["oracle_any_correct"] = {}
    for teacher, student, value in oracle.iter_rows():
        metrics["oracle_any_correct"].setdefault(teacher, {})[student] = round(value, 4)
    gains: dict = {}
    for teacher, by_student in metrics["accuracy"].items():
        for student, by_method in by_student.items():
            for m in (m for m in Method if m.uses_scores):
                if m in by_method and Method.SC in by_method:
                    gains.setdefault(teacher, {}).setdefault(student, {})[str(m)] = round(
                        by_method[m] - by_method[Method.SC], 4)
    metrics["gain_over_sc"] = gains
    return metrics
