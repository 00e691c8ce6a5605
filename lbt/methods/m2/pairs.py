"""Preference pairs from scored training TRs: M2's (0.5·correct + 0.5·LbT) and the
correctness-only baseline's, under the same rules and budget.

The rules, per training TP:

1. **Candidates** are the TP's distinct TR texts (identical samples are one candidate, kept
   under their lowest sample number; identical TRs sit identical exams, so they share grade and
   LbT score).
2. Each candidate gets a score: M2 `alpha·grade + (1 − alpha)·LbT`; the baseline `grade`.
3. Every ordered pair (chosen, rejected) whose scores differ by **more than** `threshold` is
   eligible: equal scores never pair, so ties need no rule.
4. At most `max_per_tp` pairs are kept: the largest score gaps first; pairs with equal gaps in
   the order of a key derived from the seed, the TP and the two candidates (the same key in
   both pair sets, so the budget treats them alike). A candidate may appear in several pairs.

The result is deterministic given the scored TRs and the seed.
"""

from __future__ import annotations

import polars as pl

from lbt.engines.base import derive_seed
from lbt.methods.m2.config import PAIR_SETS, PairParams, PairSet

CANDIDATE_COLUMNS = ["tp_id", "sample", "copies", "prompt", "text", "answer", "grade", "correct", "lbt", "n_exams"]
SIDE_COLUMNS = ["sample", "text", "answer", "grade", "correct", "lbt", "score"]


def scored_rationales(rationales: pl.DataFrame, exams: pl.DataFrame) -> pl.DataFrame:
    """One row per TR with its TA's grade and its LbT score: the mean grade of every exam answer
    of every student that had it as example (students pooled), and `n_exams`."""
    lbt = exams.group_by("tp_id", "sample").agg(lbt=pl.col("grade").mean(), n_exams=pl.len())
    return rationales.join(lbt, on=["tp_id", "sample"], how="left").with_columns(
        lbt=pl.col("lbt").fill_null(0.0), n_exams=pl.col("n_exams").fill_null(0))


def candidates(scored: pl.DataFrame) -> pl.DataFrame:
    """The distinct TR texts of each TP, under their lowest sample number, with their copy count."""
    return (
        scored.sort("tp_id", "sample")
        .group_by("tp_id", "text", maintain_order=True)
        .agg(pl.exclude("text").first(), copies=pl.len())
        .select(CANDIDATE_COLUMNS)
    )


def score_expr(pair_set: PairSet, alpha: float) -> pl.Expr:
    if pair_set == "m2":
        return alpha * pl.col("grade") + (1 - alpha) * pl.col("lbt")
    return pl.col("grade")


def build_pairs(cands: pl.DataFrame, pair_set: PairSet, p: PairParams, seed: int) -> pl.DataFrame:
    """The pairs of one pair set (see the module's rules), one row per pair: the TP, its prompt, and
    for each side (`chosen_*`, `rejected_*`) sample, text, answer, grade, correct, LbT score and score."""
    scored = cands.with_columns(score=score_expr(pair_set, p.alpha))
    side = scored.select("tp_id", "prompt", *SIDE_COLUMNS)
    joined = side.join(side.drop("prompt"), on="tp_id", suffix="_r").filter(
        pl.col("score") - pl.col("score_r") > p.threshold)
    eligible = joined.rename({c: f"chosen_{c}" for c in SIDE_COLUMNS}).rename(
        {f"{c}_r": f"rejected_{c}" for c in SIDE_COLUMNS})
    tie_keys = [derive_seed(seed, "pair", tp, c, r) for tp, c, r in
                eligible.select("tp_id", "chosen_sample", "rejected_sample").iter_rows()]
    return (
        eligible.with_columns(gap=pl.col("chosen_score") - pl.col("rejected_score"),
                              _tie=pl.Series(tie_keys, dtype=pl.UInt64))
        .sort("tp_id", "gap", "_tie", descending=[False, True, False])
        .group_by("tp_id", maintain_order=True).head(p.max_per_tp)
        .drop("_tie")
        .with_columns(pair_set=pl.lit(pair_set), seed=pl.lit(seed, dtype=pl.Int64))
        .select("pair_set", "seed", "tp_id", "prompt", "gap", pl.exclude("pair_set", "seed", "tp_id", "prompt", "gap"))
    )


def all_pairs(cands: pl.DataFrame, p: PairParams, seeds: list[int]) -> pl.DataFrame:
    """Both pair sets for every training seed, in one table (`pair_set`, `seed` columns)."""
    return pl.concat([build_pairs(cands, s, p, seed) for seed in seeds for s in PAIR_SETS])


# -- how the two pair sets differ -------------------------------------------------------------------

KINDS = {
    "correct_over_wrong": "chosen TA correct, rejected TA wrong",
    "both_correct": "both TAs correct: LbT tells them apart",
    "both_wrong": "both TAs wrong: LbT tells them apart",
    "wrong_over_correct": "chosen TA wrong, rejected TA correct",
}


def pair_kind() -> pl.Expr:
    c, r = pl.col("chosen_correct"), pl.col("rejected_correct")
    return (pl.when(c & ~r).then(pl.lit("correct_over_wrong")).when(c & r).then(pl.lit("both_correct"))
            .when(~c & ~r).then(pl.lit("both_wrong")).otherwise(pl.lit("wrong_over_correct")))


def pair_differences(pairs: pl.DataFrame, seed: int) -> pl.DataFrame:
    """For one seed, the pairs of each set by kind: how many, how many the other set shares
    (same TP, same chosen and rejected text), and how many of their chosen TRs are the
    reference solution (toy: the TR uses the true operations)."""
    one = pairs.filter(pl.col("seed") == seed).with_columns(kind=pair_kind())
    keys = ["tp_id", "chosen_text", "rejected_text"]
    rows = []
    for pair_set in PAIR_SETS:
        mine = one.filter(pl.col("pair_set") == pair_set)
        other = one.filter(pl.col("pair_set") != pair_set).select(keys).unique()
        shared = mine.join(other, on=keys, how="semi").group_by("kind").len(name="shared")
        counts = mine.group_by("kind").agg(pairs=pl.len(), chosen_is_reference=pl.col("chosen_is_reference").sum())
        rows.append(counts.join(shared, on="kind", how="left").with_columns(pair_set=pl.lit(pair_set)))
    table = pl.concat(rows).with_columns(pl.col("shared").fill_null(0))
    table = table.with_columns(only_here=pl.col("pairs") - pl.col("shared"))
    order = {k: i for i, k in enumerate(KINDS)}
    return table.sort(pl.col("pair_set"), pl.col("kind").replace_strict(order, return_dtype=pl.Int64)).select(
        "pair_set", "kind", "pairs", "shared", "only_here", "chosen_is_reference")


def with_reference_flags(pairs: pl.DataFrame, problems: pl.DataFrame) -> pl.DataFrame:
    """`chosen_is_reference` / `rejected_is_reference`: the side's text is the TP's reference
    solution (whitespace-normalised); in the toy world, the TR uses the true operations."""
    solutions = problems.select(tp_id="problem_id", _solution=_squeeze(pl.col("solution")))
    return pairs.join(solutions, on="tp_id", how="left").with_columns(
        chosen_is_reference=(_squeeze(pl.col("chosen_text")) == pl.col("_solution")).fill_null(False),
        rejected_is_reference=(_squeeze(pl.col("rejected_text")) == pl.col("_solution")).fill_null(False),
    ).drop("_solution")


def _squeeze(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(r"\s+", " ").str.strip_chars()
