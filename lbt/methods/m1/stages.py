"""The M1 selection stage: candidates from every (teacher, student) pair, the picks of every
method under every grouping the task offers, the analyses, metrics and plots."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params, ParamsError
from lbt.methods.m1 import plots
from lbt.methods.m1.analysis import (COST_COLUMNS, accuracy, breakdown, cost, m1_reaching_sc, method_costs,
                                     nested, resampled_accuracy, selection_metrics)
from lbt.methods.m1.config import Method
from lbt.methods.m1.inputs import read_rationales, read_scores
from lbt.methods.m1.select import exact_numerators, select
from lbt.tables import read_json, write_json, write_table
from lbt.tasks.base import SPLITS, GroupingMode, Task
from lbt.tasks.make import make_task
from lbt.teaching import names

KEYS = ["teacher", "student", "tp_id"]
SPLIT = SPLITS["eval"]


def select_stage(params: Params) -> dict:
    check_student_groups(params)
    sel = params.selection
    ranked = [m for m in sel.methods if m != Method.GREEDY]
    rationales, scores = read_rationales(params), read_scores(params)  # read once for every grouping mode
    greedy = greedy_rows(params) if Method.GREEDY in sel.methods else None
    with make_task(params) as task:
        cands = {mode: candidates(rationales, scores, task, mode) for mode in task.grouping_modes}
    picks = {mode: _pick(c, ranked, sel.ties, greedy) for mode, c in cands.items()}
    headline = task.grouping_modes[0]
    picked = picks[headline]
    write_table(picked, paths.SELECTIONS)
    acc = accuracy(picked, ["teacher", "student", "method"])
    curve = resampled_accuracy(cands[headline], KEYS, ranked, sel.resample_sizes, sel.resample_trials, params.seed,
                               sel.ties)
    write_table(curve, paths.RESAMPLING)
    problems = pl.read_parquet(paths.PROBLEMS)
    write_table(breakdown(picked, problems, task.descriptive_columns, SPLIT.tp_role), paths.BREAKDOWN)
    metrics = selection_metrics(acc, cands[headline], KEYS) | compute_metrics(cands[headline], ranked, curve, greedy)
    if sel.adaptive is not None and sel.adaptive.enabled:
        metrics["adaptive"] = adaptive_summary(params, acc)
    if len(picks) > 1:
        metrics["accuracy_by_grouping"] = {
            mode: nested(accuracy(p, ["teacher", "student", "method"]), "accuracy") for mode, p in picks.items()}
    write_json(paths.SELECTION_METRICS, metrics)
    plots.write_selection_plots(acc, curve)
    return metrics


def compute_metrics(cands: pl.DataFrame, ranked: list[Method], curve: pl.DataFrame,
                    greedy: pl.DataFrame | None) -> dict:
    """The compute each method used on all TRs (greedy: from `greedy_rows`, when selected), and
    where M1 reaches SC's accuracy at the largest N."""
    costs = method_costs(cost(cands, ["teacher", "student"]), ranked)
    if greedy is not None:
        costs = pl.concat([costs, _greedy_costs(greedy)], how="diagonal_relaxed")
    return {
        "compute": nested(costs, list(COST_COLUMNS)),
        "compute_counting": "generations and generated tokens: the teacher's TRs (greedy: one per TP), plus, for "
                            "M1, the students' exam answers of those TRs; identical TRs of a TP share their exam "
                            "answers, which count once, as the exam stage generates them once",
        "m1_reaches_sc": nested(m1_reaching_sc(curve), ["n", "mean", "std", "tokens", "sc_n", "sc_mean", "sc_std",
                                                        "sc_tokens"]),
    }


def adaptive_summary(params: Params, acc: pl.DataFrame) -> dict:
    """Per pair: M1's accuracy with the adaptive exam budget beside the full exam's, and the share
    of the full exam's student generations the adaptive stage asked for."""
    full = nested(acc, "accuracy")
    out: dict = {}
    for teacher in params.teachers:
        for student in params.students:
            m = read_json(paths.adaptive_metrics(teacher, student))
            out.setdefault(teacher, {})[student] = {
                "accuracy": m["accuracy"],
                "full_exam_accuracy": {k: v for k, v in full[teacher][student].items() if k in m["accuracy"]},
                **{k: m[k] for k in ("student_generations", "full_exam_generations", "fraction", "rounds")},
            }
    return out


def check_student_groups(params: Params) -> None:
    """Each group's members are known students, and no group is named like a student."""
    for name, members in params.selection.student_groups.items():
        unknown = [m for m in members if m not in params.students]
        if unknown or name in params.students:
            what = f"unknown student {unknown[0]!r}" if unknown else "named like a student"
            raise ParamsError(f"params.yaml: `selection.student_groups.{name}`: {what}; the students are "
                              f"{', '.join(params.students)}.")


def student_names(params: Params) -> list[str]:
    """The students (and their self-debugged variants) and then the student groups: every
    "student" that results are reported for."""
    return [*names.student_names(params), *params.selection.student_groups]


def candidates(rationales: pl.DataFrame, scores: pl.DataFrame, task: Task, mode: GroupingMode) -> pl.DataFrame:
    """Per (teacher, student, TP, sample): the TR's answer class (by `mode`), correctness and LbT score."""
    scopes = [f"{t}\x1f{p}" for t, p in zip(rationales["teacher"], rationales["tp_id"])]
    groups = task.answer_groups(rationales["answer"].to_list(), scopes=scopes, mode=mode)
    cands = rationales.with_columns(group=pl.Series(groups, dtype=pl.String), text_key=pl.col("text").hash()).join(
        scores, on=["tp_id", "teacher", "sample"]).select(
        "teacher", "student", "tp_id", "sample", "answer", "group", "correct", "score", "grade_sum", "n_exams",
        "text_key", "exam_tokens", tr_tokens="n_tokens")
    return exact_numerators(cands, KEYS)


def _pick(cands: pl.DataFrame, ranked: list[Method], ties: str, greedy: pl.DataFrame | None) -> pl.DataFrame:
    picked = select(cands, KEYS, ranked, ties)
    return picked if greedy is None else pl.concat([picked, greedy.select(picked.columns)])


def greedy_rows(params: Params) -> pl.DataFrame:
    """The teacher's greedy answers, one row per TP and student (and the tokens it took)."""
    rows = []
    for teacher in names.teacher_names(params):
        greedy = pl.read_parquet(paths.greedy(teacher)).select(
            "teacher", "tp_id", "n_tokens", group="answer", correct="correct", method=pl.lit(str(Method.GREEDY)))
        rows += [greedy.with_columns(student=pl.lit(s)) for s in student_names(params)]
    return pl.concat(rows)


def _greedy_costs(greedy: pl.DataFrame) -> pl.DataFrame:
    """One teacher generation per TP, no student."""
    return greedy.group_by("teacher", "student", "method").agg(
        teacher_generations=pl.len(), teacher_tokens=pl.col("n_tokens").sum(), student_generations=pl.lit(0),
        student_tokens=pl.lit(0), tokens=pl.col("n_tokens").sum())
