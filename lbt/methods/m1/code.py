"""M1 for code (paper §3.2, App. A.3): the S-score (hidden-test pass rate) of the TA each way of
choosing picks, per TP. For every (teacher, student, TP):

- `greedy`     the teacher's greedy TA;
- `avg_all`    the mean over all sampled TAs (what a TA drawn at random scores);
- `m1_max`     the TA M1-MAX picks: highest LbT score, i.e. the mean V-score of the student's
               exam answers with that TR as example (ties: more votes, then `selection.ties`);
- `avg_v1`     the mean over the TAs that pass their own visible tests (V-score 1);
- `m1_max_v1`  M1-MAX among those TAs;
- `best`       the best TA (an oracle, the ceiling of any selection).

`avg_v1` and `m1_max_v1` are null for a TP none of whose TAs passes its visible tests; means over
TPs skip them (`n_tp_v1` counts the rest). Self-debugged teachers and students (`<name>+debug`)
are rows of their own: with and without self-debugging side by side. A TP without any answer
scores 0. Answers are grouped by normalised code, so TAs of one class share their S-score.
"""

from __future__ import annotations

import polars as pl
from matplotlib.figure import Figure

from lbt import paths
from lbt.config import Params
from lbt.methods.m1.config import LABELS, MEASURES, Method
from lbt.methods.m1.plots import with_pair
from lbt.methods.m1.select import select
from lbt.methods.m1.inputs import read_rationales, read_scores
from lbt.methods.m1.stages import KEYS, candidates, greedy_rows
from lbt.tables import write_json, write_table
from lbt.tasks.code.tested import TestedCodeTask
from lbt.tasks.make import make_task

def with_s_scores(task: TestedCodeTask, problems: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """`table` (rows with tp_id and answer) with `s_score`, the hidden-test pass rate of each answer."""
    rows = table.select("tp_id").join(problems.rename({"problem_id": "tp_id"}), on="tp_id", how="left")
    return table.with_columns(s_score=pl.Series(task.s_scores(table["answer"].to_list(), rows), dtype=pl.Float64))


def per_tp(cands: pl.DataFrame, greedy: pl.DataFrame, ties: str) -> pl.DataFrame:
    """One row per (teacher, student, TP) with every measure of MEASURES. `cands` are M1 candidates
    (normalised-code classes) with `s_score`; `greedy` has teacher, student, tp_id, s_score."""
    spread = cands.group_by(KEYS).agg(avg_all=pl.col("s_score").mean(), best=pl.col("s_score").max(),
                                      avg_v1=pl.col("s_score").filter(pl.col("correct")).mean())
    table = spread.join(_m1_max(cands, ties).rename({"s_score": "m1_max"}), on=KEYS, how="left")
    table = table.join(_m1_max(cands.filter(pl.col("correct")), ties).rename({"s_score": "m1_max_v1"}), on=KEYS,
                       how="left")
    table = table.join(greedy.select(*KEYS, greedy="s_score"), on=KEYS, how="left")
    return table.select(*KEYS, *MEASURES).with_columns(pl.col("m1_max").fill_null(0.0)).sort(KEYS)


def _m1_max(cands: pl.DataFrame, ties: str) -> pl.DataFrame:
    """The S-score of the class M1-MAX picks per (teacher, student, TP): its first TA's (0: no answer)."""
    picked = select(cands, KEYS, [Method.M1_MAX], ties)  # type: ignore[arg-type]
    first = cands.sort("sample").group_by(*KEYS, "group", maintain_order=True).agg(pl.col("s_score").first())
    return (picked.join(first, on=[*KEYS, "group"], how="left")
            .with_columns(pl.col("s_score").fill_null(0.0)).select(*KEYS, "s_score"))


def summary(table: pl.DataFrame) -> pl.DataFrame:
    """Per (teacher, student): the mean of each measure over TPs, TPs, and TPs with a V=1 TA."""
    return table.group_by("teacher", "student", maintain_order=True).agg(
        *(pl.col(m).mean() for m in MEASURES), n_tp=pl.len(), n_tp_v1=pl.col("avg_v1").is_not_null().sum())


def s_score_figure(means: pl.DataFrame) -> Figure:
    """Mean S-score (%) of each measure, one group of bars per (teacher → student) pair."""
    means = with_pair(means)
    fig = Figure(figsize=(1.5 + 1.6 * means.height, 3.2))
    ax = fig.subplots()
    width = 0.8 / len(MEASURES)
    for k, measure in enumerate(MEASURES):
        values = [100 * (v or 0.0) for v in means[measure]]
        ax.bar([i + k * width for i in range(means.height)], values, width, label=LABELS[measure])
    ax.set_xticks([i + width * (len(MEASURES) - 1) / 2 for i in range(means.height)], means["pair"].to_list(),
                  fontsize=8)
    ax.set_ylabel("mean S-score (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.set_title("Code: hidden-test pass rate of the chosen TA")
    fig.tight_layout()
    return fig


def select_code_stage(params: Params) -> pl.DataFrame:
    """The select_code stage: S-scores of every TA, the per-TP table, its means as metrics, the figure."""
    problems = pl.read_parquet(paths.PROBLEMS)
    with make_task(params) as task:
        if not isinstance(task, TestedCodeTask):
            raise ValueError(f"select_code needs a code task, not {task.name!r}.")
        rationales = with_s_scores(task, problems, read_rationales(params))
        greedy = with_s_scores(task, problems, greedy_rows(params).rename({"group": "answer"}))
        cands = candidates(rationales, read_scores(params), task, task.grouping_modes[0])
    cands = cands.join(rationales.select("teacher", "tp_id", "sample", "s_score"), on=["teacher", "tp_id", "sample"])
    table = per_tp(cands, greedy, params.selection.ties)
    write_table(table, paths.CODE_SELECTIONS)
    means = summary(table)
    write_json(paths.CODE_METRICS, _metrics(means))
    paths.FIGURES.mkdir(parents=True, exist_ok=True)
    s_score_figure(means).savefig(paths.figure("code_s_scores"), dpi=120, bbox_inches="tight")
    return means


def _metrics(means: pl.DataFrame) -> dict:
    """{"s_score": {teacher: {student: {measure: mean}}}, "n_tp": ..., "n_tp_v1": ...}."""
    out: dict = {"s_score": {}, "n_tp": {}, "n_tp_v1": {}}
    for row in means.iter_rows(named=True):
        t, s = row["teacher"], row["student"]
        out["s_score"].setdefault(t, {})[s] = {m: None if row[m] is None else round(row[m], 4) for m in MEASURES}
        out["n_tp"].setdefault(t, {})[s] = row["n_tp"]
        out["n_tp_v1"].setdefault(t, {})[s] = row["n_tp_v1"]
    return out
