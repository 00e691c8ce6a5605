"""One function per pipeline stage: read the stage's inputs, do its work, write its outputs.

Notebooks call these and then show what came out; the logic lives here so it is tested.
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
    from lbt.toy.train import train_toy_model
    from lbt.toy.world import ToyWorld

    world = ToyWorld(params.toy.world)
    report = train_toy_model(role, world, params.toy.train, paths.TOY_MODELS / role, params.seed)
    write_json(paths.METRICS / f"train_{role}.json", {k: v for k, v in report.items() if k != "losses"})
    return report


def rationales(params: Params) -> tuple[pl.DataFrame, pl.DataFrame]:
    task, problems = make_task(params), pl.read_parquet(paths.PROBLEMS)
    engine = make_engine(params.teacher, params.cache_path)
    sampled, greedy = generate_rationales(task, engine, params.teacher.chat, problems, params.rationales, params.seed)
    write_table(sampled, paths.RATIONALES)
    write_table(greedy, paths.GREEDY)
    write_json(paths.METRICS / "rationales.json", {
        "n_tp": greedy.height,
        "num_rationales": params.rationales.num_rationales,
        "accuracy": {"sampled": _mean(sampled["correct"]), "greedy": _mean(greedy["correct"])},
        "no_answer_rate": _mean(sampled["answer"].is_null()),
        "generations": _generation_counts(engine),
    })
    return sampled, greedy


def exams(params: Params) -> pl.DataFrame:
    task, problems = make_task(params), pl.read_parquet(paths.PROBLEMS)
    pairs = exam_pairs(problems, pl.read_parquet(paths.RATIONALES), params.exam.max_eps)
    tables, counts = [], {}
    for student in params.students:
        engine = make_engine(student, params.cache_path)
        tables.append(run_exam(task, engine, student.chat, pairs, params.exam, params.seed))
        counts[student.name] = _generation_counts(engine)
    table = pl.concat(tables)
    write_table(table, paths.EXAMS)
    write_json(paths.METRICS / "exams.json", {
        "n_exam_answers": table.height,
        "accuracy": _mean(table["correct"]),
        "no_answer_rate": _mean(table["answer"].is_null()),
        "generations": counts,
    })
    return table


def scores(params: Params) -> pl.DataFrame:
    table = lbt_scores(pl.read_parquet(paths.EXAMS))
    write_table(table, paths.LBT_SCORES)
    return table


def candidates(params: Params) -> pl.DataFrame:
    """Per (student, TP, sample): the TR's answer class, correctness and LbT score."""
    task = make_task(params)
    tr = pl.read_parquet(paths.RATIONALES)
    tr = tr.with_columns(group=pl.Series(task.answer_groups(tr["answer"].to_list()), dtype=pl.String))
    return tr.join(pl.read_parquet(paths.LBT_SCORES), on=["tp_id", "teacher", "sample"]).select(
        "student", "tp_id", "sample", "answer", "group", "correct", "score")


def select_stage(params: Params) -> dict:
    sel = params.selection
    cands = candidates(params)
    score_methods = [m for m in sel.methods if m != "greedy"]
    picked = select(cands, ["student", "tp_id"], score_methods)
    greedy = pl.read_parquet(paths.GREEDY)
    if "greedy" in sel.methods:
        picked = pl.concat([picked, _greedy_rows(greedy, cands["student"].unique().sort().to_list())])
    write_table(picked, paths.SELECTIONS)
    acc = accuracy(picked, ["student", "method"])
    curve = resampled_accuracy(cands, ["student", "tp_id"], [m for m in score_methods], sel.resample_sizes,
                               sel.resample_trials, params.seed)
    write_table(curve, paths.RESAMPLING)
    metrics = _selection_metrics(acc, cands)
    write_json(paths.METRICS / "selection.json", metrics)
    _write_plot_data(acc, curve)
    return metrics


def _greedy_rows(greedy: pl.DataFrame, students: list[str]) -> pl.DataFrame:
    rows = greedy.select("tp_id", group="answer", correct="correct", method=pl.lit("greedy"))
    return pl.concat([rows.with_columns(student=pl.lit(s)) for s in students]).select(
        "student", "tp_id", "group", "correct", "method")


def _selection_metrics(acc: pl.DataFrame, cands: pl.DataFrame) -> dict:
    metrics: dict = {"accuracy": {}, "no_answer_rate": {}}
    for student, method, value, _, no_answer in acc.iter_rows():
        metrics["accuracy"].setdefault(student, {})[method] = round(value, 4)
        metrics["no_answer_rate"].setdefault(student, {})[method] = round(no_answer, 4)
    oracle = cands.group_by("student", "tp_id").agg(pl.col("correct").any()).group_by("student").agg(
        pl.col("correct").mean())
    metrics["oracle_any_correct"] = {s: round(v, 4) for s, v in oracle.iter_rows()}
    for student, by_method in metrics["accuracy"].items():
        if "sc" in by_method:
            for m in ("m1_max", "m1_sum", "m1_avg"):
                if m in by_method:
                    metrics.setdefault("gain_over_sc", {}).setdefault(student, {})[m] = round(
                        by_method[m] - by_method["sc"], 4)
    return metrics


def _write_plot_data(acc: pl.DataFrame, curve: pl.DataFrame) -> None:
    from lbt import plots

    paths.PLOTS.mkdir(parents=True, exist_ok=True)
    paths.FIGURES.mkdir(parents=True, exist_ok=True)
    acc.select("student", "method", "accuracy").write_csv(paths.PLOTS / "accuracy_by_method.csv")
    curve.write_csv(paths.PLOTS / "accuracy_vs_n.csv")
    plots.accuracy_by_method(acc).savefig(paths.FIGURES / "accuracy_by_method.png", dpi=120, bbox_inches="tight")
    plots.accuracy_vs_n(curve).savefig(paths.FIGURES / "accuracy_vs_n.png", dpi=120, bbox_inches="tight")


def _generation_counts(engine) -> dict:
    s = engine.stats
    return {"requested": s.requested, "generated": s.generated, "cached": s.cached}


def _mean(series: pl.Series) -> float:
    return round(float(series.cast(pl.Float64).mean() or 0.0), 4)
