"""An adaptive exam budget for M1: exam answers only where they can still change a TP's M1-SUM pick.

The full exam gives every distinct TR all `M` of its exam answers (EPs × repeats). M1-SUM ranks a
TP's answer classes by the sum of their TRs' LbT scores, i.e. by each class's weighted total of
exam grades, where a TR's weight is its number of copies among the TP's TRs (identical TRs share
one exam). The race examines these exam answers (**units**: one distinct TR's answer to one EP,
one repeat) in rounds, all TPs at once:

1. for each class, its total is known for the examined units and estimated for the others, from
   the mean of its examined units (a simple random sample of the class's units; two pseudo-units
   graded 0 and 1 keep the first estimates humble); a confidence interval `est ± z·se` (with the
   finite-population correction) is clipped to the hard bounds (every unexamined unit wrong / right);
2. the leader is the class with the highest estimate (ties: more votes, then `ties`); a TP is
   settled when no other class can still win: its upper bound is below the leader's lower
   bound, or equal to it while the tie would go to the leader (or both are fully examined); or
   when `max_fraction` of its units are examined;
3. an unsettled TP examines its next `batch_fraction` of units, drawn from the leader and the
   classes still in contention, in a fixed pseudo-random order (repeat 0 of every EP before
   repeat 1, so a unit's sample index never skips one; the order depends on the seed and the
   unit only, so a rerun asks for the same units).

A TP with a single answer class needs no exam at all. With `z` infinite only the hard bounds
stop a TP, and the pick is the full exam's M1-SUM pick exactly; a finite `z` trades a small risk
of another pick for far fewer exam answers. The final picks: M1-SUM the leader; M1-AVG the
highest estimated total per vote; M1-MAX the highest mean over a single TR's examined units
(with one pseudo-unit graded 0 and one graded 1, so one lucky answer does not outrank a TR
examined nine times; the stopping rule serves M1-SUM, the others are read off what it examined).

`race` takes the units and a grader (`grade_units`: units in, their grades out); the simulation
grades from a table of outcomes, the adaptive exam stage by asking the student through the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import polars as pl
from tqdm import tqdm

from lbt.methods.m1.config import AdaptiveParams, Method, Ties

# Columns of the units table `race` takes (plus the scope keys, e.g. teacher, student, tp_id).
UNIT_COLUMNS = ("group", "tr", "ep_id", "rep", "weight")
CLASS_COLUMNS = ("group", "votes", "first_sample", "correct")
# The methods read off the race, and the class statistic each ranks by.
RANKED_BY = {Method.M1_SUM: "est", Method.M1_AVG: "per_vote", Method.M1_MAX: "tr_max"}


@dataclass
class RaceResult:
    picks: pl.DataFrame  # per (keys..., method): group, correct
    units: pl.DataFrame  # the units with `grade` (null: never examined) and `round`
    rounds: int


def race(units: pl.DataFrame, classes: pl.DataFrame, keys: list[str], grade_units: Callable[[pl.DataFrame], pl.Series],
         p: AdaptiveParams, seed: int, ties: Ties = "first_seen") -> RaceResult:
    """Runs the race on `units` (keys + UNIT_COLUMNS: `tr` names a distinct TR) of the answer
    `classes` (keys + CLASS_COLUMNS); `grade_units` returns one grade in [0, 1] per unit row."""
    units = with_order(units, keys, seed).with_columns(grade=pl.lit(None, pl.Float64), round=pl.lit(None, pl.Int64))
    sizes = units.group_by(keys).agg(_total=pl.len())
    rounds = 0
    with tqdm(desc="adaptive exam rounds", mininterval=2) as bar:
        while True:
            stats = class_estimates(units, classes, keys, p.z)
            batch = next_units(units, stats, sizes, keys, p, ties)
            if batch.height == 0:
                break
            rounds += 1
            graded = batch.with_columns(_g=grade_units(batch).cast(pl.Float64), _r=pl.lit(rounds, pl.Int64))
            units = units.join(graded.select(*keys, "tr", "ep_id", "rep", "_g", "_r"),
                               on=[*keys, "tr", "ep_id", "rep"], how="left", nulls_equal=True).with_columns(
                grade=pl.coalesce("grade", "_g"), round=pl.coalesce("round", "_r")).drop("_g", "_r")
            bar.update(1)
    stats = class_estimates(units, classes, keys, p.z)
    return RaceResult(final_picks(units, stats, keys, ties), units.drop("_order"), rounds)


def with_order(units: pl.DataFrame, keys: list[str], seed: int) -> pl.DataFrame:
    """`_order`: a hash of the unit (and the seed), for a fixed pseudo-random order after the repeat."""
    return units.with_columns(_order=pl.struct(*keys, "tr", "ep_id", "rep").hash(seed=seed % 2**63))


def class_estimates(units: pl.DataFrame, classes: pl.DataFrame, keys: list[str], z: float) -> pl.DataFrame:
    """Per class: `known` (graded weight so far), `est`, `lo`, `hi` of its final weighted total, and
    `remaining` (unexamined units), joined to the classes' votes and first samples."""
    wy = pl.col("weight") * pl.col("grade")
    unexamined = pl.col("grade").is_null()
    stats = units.group_by([*keys, "group"]).agg(
        N=pl.len(), n=pl.col("grade").is_not_null().sum(), known=wy.sum(), known2=(wy * wy).sum(),
        w_open=pl.col("weight").filter(unexamined).sum(), w_bar=pl.col("weight").mean())
    count = pl.col("n") + 2  # two pseudo-units, graded 0 and 1, weighted w_bar
    s1, s2 = pl.col("known") + pl.col("w_bar"), pl.col("known2") + pl.col("w_bar") ** 2
    mean, var = s1 / count, ((s2 - s1 * s1 / count) / (count - 1)).clip(lower_bound=0)
    remaining = pl.col("N") - pl.col("n")
    se = remaining * (var / count * remaining / pl.col("N")).sqrt()
    spread = se * z if math.isfinite(z) else pl.lit(math.inf)
    est = pl.col("known") + remaining * mean
    return (
        stats.with_columns(remaining=remaining, est=est, _spread=pl.when(remaining > 0).then(spread).otherwise(0.0))
        .with_columns(lo=pl.max_horizontal(pl.col("known"), pl.col("est") - pl.col("_spread")),
                      hi=pl.min_horizontal(pl.col("known") + pl.col("w_open"), pl.col("est") + pl.col("_spread")))
        .drop("_spread", "known2", "w_bar")
        .join(classes.select(*keys, *CLASS_COLUMNS), on=[*keys, "group"], how="left", nulls_equal=True)
    )


def ranked(stats: pl.DataFrame, keys: list[str], by: str, ties: Ties) -> pl.DataFrame:
    """Classes sorted within each scope: `by` descending, then votes, then the tie rule."""
    return stats.sort([*keys, by, "votes", "first_sample"],
                      descending=[False] * len(keys) + [True, True, ties == "last_seen"])


def next_units(units: pl.DataFrame, stats: pl.DataFrame, sizes: pl.DataFrame, keys: list[str],
               p: AdaptiveParams, ties: Ties) -> pl.DataFrame:
    """The next batch of unexamined units of every unsettled scope (empty when all are settled)."""
    order = ranked(stats, keys, "est", ties).with_columns(
        _leader=pl.int_range(pl.len()).over(keys) == 0)
    leader = order.filter("_leader").select(*keys, _lo="lo", _open="remaining", _votes="votes", _first="first_sample")
    later = pl.col("first_sample") > pl.col("_first")
    wins_tie = (pl.col("votes") > pl.col("_votes")) | (
        (pl.col("votes") == pl.col("_votes")) & (later if ties == "last_seen" else ~later))
    can_win = (pl.col("hi") > pl.col("_lo")) | ((pl.col("hi") == pl.col("_lo")) & wins_tie)
    contested = (
        order.join(leader, on=keys, nulls_equal=True)
        .filter(pl.col("_leader") | (can_win & (pl.col("remaining") + pl.col("_open") > 0)))
    )
    live = contested.group_by(keys).agg(_rivals=(~pl.col("_leader")).sum()).filter(pl.col("_rivals") > 0)
    spent = units.group_by(keys).agg(_spent=pl.col("grade").is_not_null().sum())
    budget = (
        live.join(sizes, on=keys, nulls_equal=True).join(spent, on=keys, nulls_equal=True)
        .with_columns(_cap=(pl.col("_total") * p.max_fraction).floor().cast(pl.Int64) - pl.col("_spent"),
                      _batch=(pl.col("_total") * p.batch_fraction).ceil().cast(pl.Int64))
        .filter(pl.col("_cap") > 0)
        .select(*keys, _take=pl.min_horizontal("_cap", "_batch"))
    )
    return (
        units.filter(pl.col("grade").is_null())
        .join(contested.select(*keys, "group"), on=[*keys, "group"], nulls_equal=True)
        .join(budget, on=keys, nulls_equal=True)
        .sort([*keys, "rep", "_order"])
        .filter(pl.int_range(pl.len()).over(keys) < pl.col("_take"))
        .drop("_take", "grade", "round")
    )


def final_picks(units: pl.DataFrame, stats: pl.DataFrame, keys: list[str], ties: Ties) -> pl.DataFrame:
    """Per (keys..., method): the picked class and its correctness, for M1-SUM, M1-AVG and M1-MAX."""
    tr_means = (
        units.filter(pl.col("grade").is_not_null()).group_by([*keys, "group", "tr"])
        .agg(_m=(pl.col("grade").sum() + 1) / (pl.len() + 2))
        .group_by([*keys, "group"]).agg(tr_max=pl.col("_m").max())
    )
    stats = stats.join(tr_means, on=[*keys, "group"], how="left", nulls_equal=True).with_columns(
        tr_max=pl.col("tr_max").fill_null(-1.0), per_vote=pl.col("est") / pl.col("votes"))
    picks = [
        ranked(stats, keys, by, ties).group_by(keys, maintain_order=True).first()
        .select(*keys, "group", "correct", method=pl.lit(str(method)))
        for method, by in RANKED_BY.items()
    ]
    return pl.concat(picks).sort([*keys, "method"])
