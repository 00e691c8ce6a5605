"""M1: pick a TP's answer from its sampled TRs, by votes (SC) or by LbT scores.

Candidates are TRs with an answer; answers are grouped into classes (the task says which
answers are equivalent). Per TP, each method ranks the answer classes and takes the first:

- `sc`      most TRs in the class (self-consistency, majority vote);
- `m1_max`  highest single LbT score among the class's TRs;
- `m1_sum`  highest sum of LbT scores (score-weighted vote);
- `m1_avg`  highest mean LbT score.

**Ties** are broken, in order, by more votes, then by the class whose first TR has the lowest
sample number (i.e. seen first). So when all scores are equal, M1 reduces to SC. A TP whose
TRs all lack an answer gets no answer, which counts as wrong. The selected class is correct
when its first TR's answer is correct. `greedy` is the teacher's greedy answer.
"""

from __future__ import annotations

import polars as pl

RANKINGS = {
    "sc": [("votes", True)],
    "m1_max": [("max_score", True), ("votes", True)],
    "m1_sum": [("sum_score", True), ("votes", True)],
    "m1_avg": [("avg_score", True), ("votes", True)],
}


def answer_classes(candidates: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per (keys..., group): votes, score statistics, first sample and its correctness.

    `candidates` has the `keys` columns plus `sample`, `group` (null: no answer), `correct`,
    and `score`."""
    return (
        candidates.filter(pl.col("group").is_not_null())
        .sort([*keys, "sample"])
        .group_by([*keys, "group"], maintain_order=True)
        .agg(
            votes=pl.len(),
            max_score=pl.col("score").max(),
            sum_score=pl.col("score").sum(),
            avg_score=pl.col("score").mean(),
            first_sample=pl.col("sample").first(),
            correct=pl.col("correct").first(),
        )
    )


def select(candidates: pl.DataFrame, keys: list[str], methods: list[str]) -> pl.DataFrame:
    """One row per (keys..., method): the selected class and whether it is correct.

    Every key combination present in `candidates` gets a row per method, also when none of
    its TRs has an answer (then group is null and correct is False)."""
    classes = answer_classes(candidates, keys)
    everyone = candidates.select(keys).unique()
    picks = []
    for method in methods:
        order = RANKINGS[method] + [("first_sample", False)]
        best = (
            classes.sort([*keys, *(c for c, _ in order)], descending=[False] * len(keys) + [d for _, d in order])
            .group_by(keys, maintain_order=True)
            .first()
            .select(*keys, "group", "correct")
        )
        picks.append(
            everyone.join(best, on=keys, how="left", nulls_equal=True)
            .with_columns(method=pl.lit(method), correct=pl.col("correct").fill_null(False))
        )
    return pl.concat(picks).sort([*keys, "method"])


def accuracy(selections: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    return (
        selections.group_by(by)
        .agg(accuracy=pl.col("correct").cast(pl.Float64).mean(), n=pl.len(),
             no_answer=pl.col("group").is_null().cast(pl.Float64).mean())
        .sort(by)
    )


def resampled_accuracy(candidates: pl.DataFrame, keys: list[str], methods: list[str],
                       sizes: list[int], trials: int, seed: int) -> pl.DataFrame:
    """Accuracy when only `n` of the sampled TRs per TP are available: for each n, `trials`
    random subsets (the same subsets for every method), then mean and std over trials."""
    n_max = candidates.group_by(keys).agg(pl.len()).get_column("len").min()
    rows = []
    for n in sorted({min(s, n_max) for s in sizes}):
        subsets = _random_subsets(candidates, keys, n, trials, seed)
        picked = select(subsets, [*keys, "trial"], methods)
        rows.append(accuracy(picked, [k for k in keys if k != "tp_id"] + ["method", "trial"]).with_columns(n=pl.lit(n)))
    per_trial = pl.concat(rows)
    group = [k for k in keys if k != "tp_id"] + ["method", "n"]
    return (
        per_trial.group_by(group)
        .agg(mean=pl.col("accuracy").mean(), std=pl.col("accuracy").std(ddof=0), trials=pl.len())
        .sort(group)
    )


def _random_subsets(candidates: pl.DataFrame, keys: list[str], n: int, trials: int, seed: int) -> pl.DataFrame:
    """`trials` copies of the candidates, each keeping `n` random TRs per (keys...)."""
    trial_ids = pl.DataFrame({"trial": list(range(trials))}, schema={"trial": pl.Int64})
    rank_key = pl.struct("trial", "tp_id", "sample").hash(seed=seed)
    return (
        candidates.join(trial_ids, how="cross")
        .with_columns(_rank=rank_key.rank("ordinal").over([*keys, "trial"]))
        .filter(pl.col("_rank") <= n)
        .drop("_rank")
    )
