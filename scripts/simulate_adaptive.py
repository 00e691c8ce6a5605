"""Simulates M1's adaptive exam budget at the paper's size and prints what it saves and costs.

    PYTHONPATH=. python scripts/simulate_adaptive.py [--seeds 5] [--z 1.5 2 3 inf] [--scenario math toy]

The paper's M1 on MATH: 181 TPs, 256 TRs each, every TR examined on 3 EPs x 3 repeats (9 exam
answers; 417k student generations). Outcomes are drawn from a stated model, per TP:

- the teacher's accuracy on the TP `a ~ Beta(a_alpha, a_beta)`; each TR is correct with prob. `a`,
  has no readable answer with prob. `no_answer`, else is wrong;
- wrong answers: with prob. `p_systematic` the TP has one systematic wrong answer that takes a
  `Beta(2, 2)` share of the wrong TRs; the other wrong TRs scatter over answers drawn from a
  Chinese-restaurant process with concentration `scatter`;
- exam answers: a student answers EP `e` after TR `t` correctly with prob.
  `sigmoid(d_tp + d_ep + signal * correct_t + u_t)`, `d_tp ~ N(0, tp_sd)`, `d_ep ~ N(0, ep_sd)`,
  `u_t ~ N(0, tr_sd)` (the TR's own teaching quality), independently over repeats.

Two scenarios: `math` (a_alpha 1.2, a_beta 0.8, i.e. TR accuracy 60% on average, scattered wrong
answers, a modest teaching signal: mean exam accuracy after a correct TR about 0.68, after a
wrong one about 0.5) — our assumption of the paper's regime, where full M1-SUM beats SC by a few
points; `toy` (fitted to the default toy run: TR accuracy 72% mean, 94% median, one systematic
wrong answer, exam accuracy 0.96 after a correct TR and 0.19 after a wrong one). The full exam's
picks use the project's exact selection rules (`lbt.methods.m1.select`); the race is
`lbt.methods.m1.adaptive.race`, graded from the drawn outcomes. Every TR is distinct (as with 256
samples of an LLM), so the full exam generates 181 x 256 x 9 answers.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from lbt.methods.m1.adaptive import race
from lbt.methods.m1.config import AdaptiveParams, Method
from lbt.methods.m1.select import exact_numerators, select

KEYS = ["tp_id"]
N_TP, N_TR, N_EP, N_REP = 181, 256, 3, 3


@dataclass(frozen=True)
class Scenario:
    a_alpha: float
    a_beta: float
    no_answer: float
    p_systematic: float
    scatter: float
    tp_sd: float
    ep_sd: float
    signal: float
    tr_sd: float
    base: float = 0.0


SCENARIOS = {
    "math": Scenario(a_alpha=0.7, a_beta=0.7, no_answer=0.03, p_systematic=0.8, scatter=4.0, tp_sd=1.2, ep_sd=0.6,
                     signal=0.9, tr_sd=1.0),
    "toy": Scenario(a_alpha=0.8, a_beta=0.3, no_answer=0.0, p_systematic=1.0, scatter=0.0, tp_sd=0.5, ep_sd=0.3,
                    signal=5.2, tr_sd=1.2, base=-2.0),
}


def draw_world(s: Scenario, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(TRs: tp_id, sample, group, correct), (exam outcomes: tp_id, tr, ep_id, rep, grade)."""
    trs, exams = [], []
    for tp in range(N_TP):
        groups, correct = _answers(s, rng)
        logits = (s.base + rng.normal(0, s.tp_sd) + rng.normal(0, s.ep_sd, N_EP)[None, :]
                  + (s.signal * correct + rng.normal(0, s.tr_sd, N_TR))[:, None])
        grades = rng.random((N_TR, N_EP, N_REP)) < (1 / (1 + np.exp(-logits)))[:, :, None]
        tp_id = f"tp{tp:03d}"
        trs.append(pl.DataFrame({"tp_id": tp_id, "sample": np.arange(N_TR), "group": groups, "correct": correct}))
        t, e, r = np.indices(grades.shape).reshape(3, -1)
        exams.append(pl.DataFrame({"tp_id": tp_id, "tr": t.astype(np.int64), "ep_id": e.astype(np.int64).astype(str),
                                   "rep": r.astype(np.int64), "grade": grades.reshape(-1).astype(np.float64)}))
    return pl.concat(trs), pl.concat(exams)


def _answers(s: Scenario, rng: np.random.Generator) -> tuple[list[str | None], np.ndarray]:
    accuracy = rng.beta(s.a_alpha, s.a_beta)
    kind = rng.choice(3, size=N_TR, p=[accuracy * (1 - s.no_answer), (1 - accuracy) * (1 - s.no_answer), s.no_answer])
    systematic_share = rng.beta(2, 2) if rng.random() < s.p_systematic else 0.0
    groups: list[str | None] = []
    scattered: list[int] = []  # sizes of the scattered wrong answers (a Chinese-restaurant process)
    for k in kind:
        if k == 0:
            groups.append("right")
        elif k == 2:
            groups.append(None)
        elif s.scatter == 0 or rng.random() < systematic_share:
            groups.append("wrong-0")
        else:
            weights = np.array(scattered + [s.scatter], dtype=float)
            pick = int(rng.choice(len(weights), p=weights / weights.sum()))
            if pick == len(scattered):
                scattered.append(0)
            scattered[pick] += 1
            groups.append(f"wrong-{pick + 1}")
    return groups, kind == 0


def full_exam_picks(trs: pl.DataFrame, exams: pl.DataFrame) -> pl.DataFrame:
    sums = exams.group_by("tp_id", "tr").agg(grade_sum=pl.col("grade").sum().cast(pl.Int64))
    cands = trs.join(sums, left_on=["tp_id", "sample"], right_on=["tp_id", "tr"]).with_columns(
        n_exams=pl.lit(N_EP * N_REP, pl.Int64))
    return select(exact_numerators(cands, KEYS), KEYS, [Method.SC, Method.M1_MAX, Method.M1_SUM, Method.M1_AVG])


def race_inputs(trs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Units (every exam answer of every TR with an answer) and the answer classes."""
    answered = trs.filter(pl.col("group").is_not_null())
    grid = pl.DataFrame({"ep_id": [str(e) for e in range(N_EP) for _ in range(N_REP)],
                         "rep": [r for _ in range(N_EP) for r in range(N_REP)]})
    units = answered.select("tp_id", "group", tr="sample").join(grid, how="cross").with_columns(weight=pl.lit(1.0))
    classes = answered.sort("tp_id", "sample").group_by("tp_id", "group", maintain_order=True).agg(
        votes=pl.len(), first_sample=pl.col("sample").first(), correct=pl.col("correct").first())
    return units, classes


def run(scenario: str, seed: int, zs: list[float], batch: float) -> list[dict]:
    trs, exams = draw_world(SCENARIOS[scenario], np.random.default_rng(seed))
    full = full_exam_picks(trs, exams)
    acc = dict(full.group_by("method").agg(pl.col("correct").mean()).iter_rows())
    units, classes = race_inputs(trs)
    outcome = {(t, tr, e, r): g for t, tr, e, r, g in exams.iter_rows()}
    rows = []
    for z in zs:
        def grade(batch_units: pl.DataFrame) -> pl.Series:
            cols = batch_units.select("tp_id", "tr", "ep_id", "rep").iter_rows()
            return pl.Series([outcome[k] for k in cols], dtype=pl.Float64)

        result = race(units, classes, KEYS, grade, AdaptiveParams(z=z, batch_fraction=batch), seed)
        used = result.units["grade"].is_not_null().sum()
        adaptive = dict(result.picks.group_by("method").agg(pl.col("correct").mean()).iter_rows())
        rows.append({"scenario": scenario, "seed": seed, "z": z, "rounds": result.rounds,
                     "fraction": used / (N_TP * N_TR * N_EP * N_REP),
                     **{f"full_{m}": acc[m] for m in acc}, **{f"adaptive_{m}": v for m, v in adaptive.items()}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--z", type=float, nargs="+", default=[1.5, 2.0, 3.0, math.inf])
    parser.add_argument("--batch", type=float, default=0.05)
    parser.add_argument("--scenario", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    args = parser.parse_args()
    rows = [r for sc in args.scenario for seed in range(args.seeds) for r in run(sc, seed, args.z, args.batch)]
    table = pl.DataFrame(rows).with_columns(loss=pl.col("full_m1_sum") - pl.col("adaptive_m1_sum"))
    summary = table.group_by("scenario", "z", maintain_order=True).agg(
        pl.len().alias("worlds"),
        *(pl.col(c).mean().mul(100).round(2).alias(c) for c in ("full_sc", "full_m1_sum", "adaptive_m1_sum", "loss",
                                                                  "full_m1_max", "adaptive_m1_max", "full_m1_avg",
                                                                  "adaptive_m1_avg", "fraction")),
        pl.col("loss").max().mul(100).round(2).alias("worst_loss"), pl.col("rounds").mean().alias("rounds"))
    with pl.Config(tbl_cols=-1, tbl_width_chars=250, tbl_rows=-1):
        print(f"accuracy and fraction in %, mean over {args.seeds} simulated worlds of {N_TP} TPs x {N_TR} TRs x "
              f"{N_EP * N_REP} exam answers; loss = full M1-SUM - adaptive M1-SUM")
        print(summary)


if __name__ == "__main__":
    main()
