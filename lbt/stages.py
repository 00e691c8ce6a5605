"""One function per pipeline stage: read the stage's inputs, do its work, write its outputs.

Notebooks call these and then show what came out; the logic lives here so it is tested.
Rationales are per teacher, exams per (teacher, student) pair; scores, selection and the
report gather every pair named in params.yaml.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.engines import make_engine
from lbt.exam import exam_pairs, run_exam
from lbt.rationales import generate_rationales
from lbt.scoring import lbt_scores
from lbt.select import accuracy, resampled_accuracy, select
from lbt.tasks import make_task

log = logging.getLogger(__name__)
BREAKDOWN_COLUMNS = ("level", "subject", "n_bad_verbs")  # whichever the problems table has


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_table(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path)


def prepare(params: Params) -> pl.DataFrame:
    problems = make_task(params).load_problems()
    write_table(problems, paths.PROBLEMS)
    log.info("problems: %s", dict(problems.group_by("role").len().iter_rows()))
    return problems


def train_toy(params: Params, role: str) -> dict:
    """Train the toy `role` model; with another task, leave a note instead (nothing to train)."""
    out_dir = paths.TOY_MODELS / role
    if params.task != "toy":
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "NOT_TRAINED.txt").write_text(f"task is {params.task!r}: the toy {role} is not used.\n")
        report = {"role": role, "skipped": True}
    else:
        from lbt.toy.train import train_toy_model
        from lbt.toy.world import ToyWorld

        report = train_toy_model(role, ToyWorld(params.toy.world), params.toy.train, out_dir, params.seed)
    write_json(paths.METRICS / f"train_{role}.json", {k: v for k, v in report.items() if k != "losses"})
    return report


def rationales(params: Params, teacher: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    task, problems, model = make_task(params), pl.read_parquet(paths.PROBLEMS), params.teachers[teacher]
    engine = make_engine(model, params.cache_path)
    sampled, greedy = generate_rationales(task, engine, model.chat, problems, params.rationales, params.seed)
    write_table(sampled, paths.rationales(teacher))
    write_table(greedy, paths.greedy(teacher))
    write_json(paths.METRICS / f"rationales_{teacher}.json", {
        "n_tp": greedy.height,
        "num_rationales": params.rationales.num_rationales,
        "accuracy": {"sampled": _mean(sampled["correct"]), "greedy": _mean(greedy["correct"])},
        "no_answer_rate": _mean(sampled["answer"].is_null()),
        "generations": _generation_counts(engine),
    })
    return sampled, greedy


def exams(params: Params, teacher: str, student: str) -> pl.DataFrame:
    task, problems, model = make_task(params), pl.read_parquet(paths.PROBLEMS), params.students[student]
    pairs = exam_pairs(problems, pl.read_parquet(paths.rationales(teacher)), params.exam.max_eps)
    engine = make_engine(model, params.cache_path)
    table = run_exam(task, engine, model.chat, pairs, params.exam, params.seed)
    write_table(table, paths.exams(teacher, student))
    write_json(paths.METRICS / f"exams_{teacher}__{student}.json", {
        "n_exam_answers": table.height,
        "accuracy": _mean(table["correct"]),
        "no_answer_rate": _mean(table["answer"].is_null()),
        "generations": _generation_counts(engine),
    })
    return table


def scores(params: Params) -> pl.DataFrame:
    table = lbt_scores(pl.concat([pl.read_parquet(paths.exams(t, s)) for t, s in _pairs(params)]))
    write_table(table, paths.LBT_SCORES)
    return table


def read_rationales(params: Params) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(paths.rationales(t)) for t in params.teachers])


def candidates(params: Params, mode: str | None = None) -> pl.DataFrame:
    """Per (teacher, student, TP, sample): the TR's answer class, correctness and LbT score."""
    task, tr = make_task(params), read_rationales(params)
    scopes = [f"{t}\x1f{p}" for t, p in zip(tr["teacher"], tr["tp_id"])]
    groups = task.answer_groups(tr["answer"].to_list(), scopes=scopes, mode=mode)
    return tr.with_columns(group=pl.Series(groups, dtype=pl.String)).join(
        pl.read_parquet(paths.LBT_SCORES), on=["tp_id", "teacher", "sample"]).select(
        "teacher", "student", "tp_id", "sample", "answer", "group", "correct", "score")


KEYS = ["teacher", "student", "tp_id"]


def select_stage(params: Params) -> dict:
    sel, task = params.selection, make_task(params)
    score_methods = [m for m in sel.methods if m != "greedy"]
    cands = {mode: candidates(params, mode) for mode in task.grouping_modes}
    picks = {mode: _pick(params, c, score_methods) for mode, c in cands.items()}
    headline = task.grouping_modes[0]
    picked = picks[headline]
    write_table(picked, paths.SELECTIONS)
    acc = accuracy(picked, ["teacher", "student", "method"])
    curve = resampled_accuracy(cands[headline], KEYS, score_methods, sel.resample_sizes, sel.resample_trials,
                               params.seed)
    write_table(curve, paths.RESAMPLING)
    write_table(breakdown(picked, pl.read_parquet(paths.PROBLEMS)), paths.BREAKDOWN)
    metrics = selection_metrics(acc, cands[headline])
    if len(picks) > 1:
        metrics["accuracy_by_grouping"] = {
            mode: _nested(accuracy(p, ["teacher", "student", "method"]), "accuracy") for mode, p in picks.items()}
    write_json(paths.METRICS / "selection.json", metrics)
    _write_plot_data(acc, curve)
    return metrics


def _pick(params: Params, cands: pl.DataFrame, score_methods: list[str]) -> pl.DataFrame:
    picked = select(cands, KEYS, score_methods)
    return pl.concat([picked, _greedy_rows(params)]) if "greedy" in params.selection.methods else picked


def breakdown(picked: pl.DataFrame, problems: pl.DataFrame) -> pl.DataFrame:
    """Accuracy per method within each value of the problems' descriptive columns (MATH level
    and subject; the toy world's number of verbs the teacher is wrong about)."""
    columns = [c for c in BREAKDOWN_COLUMNS if c in problems.columns]
    info = problems.filter(pl.col("role") == "tp").select(pl.col("problem_id").alias("tp_id"), *columns)
    joined = picked.join(info, on="tp_id")
    parts = [
        accuracy(joined.with_columns(value=pl.col(c).cast(pl.String)), ["teacher", "student", "method", "value"])
        .with_columns(column=pl.lit(c))
        for c in columns
    ]
    return pl.concat(parts) if parts else pl.DataFrame()


def _pairs(params: Params) -> list[tuple[str, str]]:
    return [(t, s) for t in params.teachers for s in params.students]


def _greedy_rows(params: Params) -> pl.DataFrame:
    rows = []
    for teacher in params.teachers:
        greedy = pl.read_parquet(paths.greedy(teacher)).select(
            "teacher", "tp_id", group="answer", correct="correct", method=pl.lit("greedy"))
        rows += [greedy.with_columns(student=pl.lit(s)) for s in params.students]
    return pl.concat(rows).select("teacher", "student", "tp_id", "group", "correct", "method")


def _nested(acc: pl.DataFrame, column: str) -> dict:
    """{teacher: {student: {method: value}}} from an accuracy table."""
    out: dict = {}
    for row in acc.iter_rows(named=True):
        out.setdefault(row["teacher"], {}).setdefault(row["student"], {})[row["method"]] = round(row[column], 4)
    return out


def selection_metrics(acc: pl.DataFrame, cands: pl.DataFrame) -> dict:
    metrics = {"accuracy": _nested(acc, "accuracy"), "no_answer_rate": _nested(acc, "no_answer")}
    oracle = cands.group_by(KEYS).agg(pl.col("correct").any()).group_by("teacher", "student").agg(
        pl.col("correct").mean())
    metrics["oracle_any_correct"] = {}
    for teacher, student, value in oracle.iter_rows():
        metrics["oracle_any_correct"].setdefault(teacher, {})[student] = round(value, 4)
    gains: dict = {}
    for teacher, by_student in metrics["accuracy"].items():
        for student, by_method in by_student.items():
            for m in ("m1_max", "m1_sum", "m1_avg"):
                if m in by_method and "sc" in by_method:
                    gains.setdefault(teacher, {}).setdefault(student, {})[m] = round(by_method[m] - by_method["sc"], 4)
    metrics["gain_over_sc"] = gains
    return metrics


def _write_plot_data(acc: pl.DataFrame, curve: pl.DataFrame) -> None:
    from lbt import plots

    paths.PLOTS.mkdir(parents=True, exist_ok=True)
    paths.FIGURES.mkdir(parents=True, exist_ok=True)
    pair = pl.format("{}/{}", "teacher", "student")
    acc.select(pair.alias("pair"), "method", "accuracy").write_csv(paths.PLOTS / "accuracy_by_method.csv")
    curve.with_columns(pair.alias("pair")).write_csv(paths.PLOTS / "accuracy_vs_n.csv")
    plots.accuracy_by_method(acc).savefig(paths.FIGURES / "accuracy_by_method.png", dpi=120, bbox_inches="tight")
    plots.accuracy_vs_n(curve).savefig(paths.FIGURES / "accuracy_vs_n.png", dpi=120, bbox_inches="tight")


def _generation_counts(engine) -> dict:
    s = engine.stats
    return {"requested": s.requested, "generated": s.generated, "cached": s.cached}


def _mean(series: pl.Series) -> float:
    return round(float(series.cast(pl.Float64).mean() or 0.0), 4)
