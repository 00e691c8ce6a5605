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
when its first TR's answer is correct. `greedy` is the teacher's greedy answer (added by the stage, not ranked here).
"""

from __future__ import annotations

import polars as pl

from lbt.methods.m1.config import Method

# Per method: the class statistics it ranks by, in order, each (column, descending).
RANKINGS = {
    Method.SC: [("votes", True)],
    Method.M1_MAX: [("max_score", True), ("votes", True)],
    Method.M1_SUM: [("sum_score", True), ("votes", True)],
    Method.M1_AVG: [("avg_score", True), ("votes", True)],
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


def select(candidates: pl.DataFrame, keys: list[str], methods: list[Method]) -> pl.DataFrame:
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
            .with_columns(method=pl.lit(str(method)), correct=pl.col("correct").fill_null(False))
        )
    return pl.concat(picks).sort([*keys, "method"])
