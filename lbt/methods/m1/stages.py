"""The M1 selection stage: candidates from every (teacher, student) pair, the picks of every
method under every grouping the task offers, the analyses, metrics and plots."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params, ParamsError
from lbt.methods.m1 import plots
from lbt.methods.m1.analysis import accuracy, breakdown, nested, resampled_accuracy, selection_metrics
from lbt.methods.m1.config import Method
from lbt.methods.m1.select import exact_numerators, select
from lbt.tables import write_json, write_table
from lbt.tasks.base import SPLITS, GroupingMode, Task
from lbt.tasks.registry import make_task
from lbt.teaching.scores import with_student_groups

KEYS = ["teacher", "student", "tp_id"]
SPLIT = SPLITS["eval"]


def select_stage(params: Params) -> dict:
    check_student_groups(params)
    sel, task = params.selection, make_task(params)
    ranked = [m for m in sel.methods if m != Method.GREEDY]
    cands = {mode: candidates(params, task, mode) for mode in task.grouping_modes}
    task.close()
    picks = {mode: _pick(params, c, ranked) for mode, c in cands.items()}
    headline = task.grouping_modes[0]
    picked = picks[headline]
    write_table(picked, paths.SELECTIONS)
    acc = accuracy(picked, ["teacher", "student", "method"])
    curve = resampled_accuracy(cands[headline], KEYS, ranked, sel.resample_sizes, sel.resample_trials, params.seed,
                               sel.ties)
    write_table(curve, paths.RESAMPLING)
    problems = pl.read_parquet(paths.PROBLEMS)
    write_table(breakdown(picked, problems, task.descriptive_columns, SPLIT.tp_role), paths.BREAKDOWN)
    metrics = selection_metrics(acc, cands[headline], KEYS)
    if len(picks) > 1:
        metrics["accuracy_by_grouping"] = {
            mode: nested(accuracy(p, ["teacher", "student", "method"]), "accuracy") for mode, p in picks.items()}
    write_json(paths.SELECTION_METRICS, metrics)
    plots.write_selection_plots(acc, curve)
    return metrics


def check_student_groups(params: Params) -> None:
    """Each group's members are known students, and no group is named like a student."""
    for name, members in params.selection.student_groups.items():
        unknown = [m for m in members if m not in params.students]
        if unknown or name in params.students:
            what = f"unknown student {unknown[0]!r}" if unknown else "named like a student"
            raise ParamsError(f"params.yaml: `selection.student_groups.{name}`: {what}; the students are "
                              f"{', '.join(params.students)}.")


def student_names(params: Params) -> list[str]:
    """The students and then the student groups: every "student" that results are reported for."""
    return [*params.students, *params.selection.student_groups]


def read_scores(params: Params) -> pl.DataFrame:
    """LbT scores of every student and every student group."""
    return with_student_groups(pl.read_parquet(paths.lbt_scores()), params.selection.student_groups)


def read_rationales(params: Params) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(paths.rationales(t)) for t in params.teachers])


def candidates(params: Params, task: Task, mode: GroupingMode) -> pl.DataFrame:
    """Per (teacher, student, TP, sample): the TR's answer class, correctness and LbT score."""
    tr = read_rationales(params)
    scopes = [f"{t}\x1f{p}" for t, p in zip(tr["teacher"], tr["tp_id"])]
    groups = task.answer_groups(tr["answer"].to_list(), scopes=scopes, mode=mode)
    cands = tr.with_columns(group=pl.Series(groups, dtype=pl.String)).join(
        read_scores(params), on=["tp_id", "teacher", "sample"]).select(
        "teacher", "student", "tp_id", "sample", "answer", "group", "correct", "score", "grade_sum", "n_exams")
    return exact_numerators(cands, KEYS)


def _pick(params: Params, cands: pl.DataFrame, ranked: list[Method]) -> pl.DataFrame:
    picked = select(cands, KEYS, ranked, params.selection.ties)
    return pl.concat([picked, _greedy_rows(params)]) if Method.GREEDY in params.selection.methods else picked


def _greedy_rows(params: Params) -> pl.DataFrame:
    rows = []
    for teacher in params.teachers:
        greedy = pl.read_parquet(paths.greedy(teacher)).select(
            "teacher", "tp_id", group="answer", correct="correct", method=pl.lit(str(Method.GREEDY)))
        rows += [greedy.with_columns(student=pl.lit(s)) for s in student_names(params)]
    return pl.concat(rows).select("teacher", "student", "tp_id", "group", "correct", "method")
