"""M1: pick a TP's answer from its sampled TRs, by votes (SC) or by LbT scores.

Candidates are TRs with an answer; answers are grouped into classes (the task says which
answers are equivalent). Per TP, each method ranks the answer classes and takes the first:

- `sc`      most TRs in the class (self-consistency, majority vote);
- `m1_max`  highest single LbT score among the class's TRs;
- `m1_sum`  highest sum of LbT scores (score-weighted vote);
- `m1_avg`  highest mean LbT score.

Scores are compared **exactly**: each candidate carries `score_num`, its LbT score times a
positive integer common to the candidates of its (keys) group (`exact_numerators` builds it),
so sums that are equal as fractions (1/9 + 6/9 + 2/9 against 9/9) tie instead of being ordered
by rounding error. Means are quotients of two exact integers, correctly rounded, which keeps
equal means equal and distinct means apart while `sum · votes² < 2**52` (checked).

**Ties** are broken, in order, by more votes, then by the class whose first TR has the lowest
sample number (`ties="first_seen"`, the default) or the highest (`"last_seen"`: the class seen
last, the original code's rule). So when all scores are equal, M1 reduces to SC. A TP whose TRs all lack
an answer gets no answer, which counts as wrong. The selected class is correct when its first
TR's answer is correct. `greedy` is the teacher's greedy answer (added by the stage, not ranked here).
"""

from __future__ import annotations

import math

import polars as pl

from lbt.methods.m1.config import Method, Ties

# Per method: the class statistics it ranks by, in order, each (column, descending).
RANKINGS = {
    Method.SC: [("votes", True)],
    Method.M1_MAX: [("max_score", True), ("votes", True)],
    Method.M1_SUM: [("sum_score", True), ("votes", True)],
    Method.M1_AVG: [("avg_score", True), ("votes", True)],
}
EXACT_MEANS_BOUND = 2**52


def exact_numerators(candidates: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Adds `score_num` = grade_sum · L / n_exams, L the lcm of n_exams within each (keys) group:
    the LbT score times L · grade_den, the same factor for every candidate of the group."""
    sets = candidates.group_by(keys).agg(_lcm=pl.col("n_exams").unique())
    lcms = sets.with_columns(_lcm=pl.col("_lcm").map_elements(lambda ns: math.lcm(*ns), return_dtype=pl.Int64))
    return (
        candidates.join(lcms, on=keys, how="left", nulls_equal=True)
        .with_columns(score_num=pl.col("grade_sum") * (pl.col("_lcm") // pl.col("n_exams")))
        .drop("_lcm")
    )


def answer_classes(candidates: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per (keys..., group): votes, exact score statistics, first sample and its correctness.

    `candidates` has the `keys` columns plus `sample`, `group` (null: no answer), `correct`,
    and `score_num` (see `exact_numerators`)."""
    classes = (
        candidates.filter(pl.col("group").is_not_null())
        .sort([*keys, "sample"])
        .group_by([*keys, "group"], maintain_order=True)
        .agg(
            votes=pl.len(),
            max_score=pl.col("score_num").max(),
            sum_score=pl.col("score_num").sum(),
            first_sample=pl.col("sample").first(),
            correct=pl.col("correct").first(),
        )
    )
    if classes.height and classes["sum_score"].max() * classes["votes"].max() ** 2 >= EXACT_MEANS_BOUND:
        raise ValueError("LbT score denominators too large to compare means exactly: reduce the grades' "
                         "denominators or the number of TRs per TP.")
    return classes.with_columns(avg_score=pl.col("sum_score") / pl.col("votes"))


def select(candidates: pl.DataFrame, keys: list[str], methods: list[Method], ties: Ties = "first_seen") -> pl.DataFrame:
    """One row per (keys..., method): the selected class and whether it is correct.

    Every key combination present in `candidates` gets a row per method, also when none of
    its TRs has an answer (then group is null and correct is False)."""
    classes = answer_classes(candidates, keys)
    everyone = candidates.select(keys).unique()
    picks = []
    for method in methods:
        order = RANKINGS[method] + [("first_sample", ties == "last_seen")]
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
