"""The adaptive exam stage: M1 with an adaptive exam budget, for every (teacher, student) pair.

For each pair it runs the race of `lbt.methods.m1.adaptive` on the pair's TRs and asks the
student for each round's exam answers through the engine and its request cache, with the exam
stage's prompts and seeds: a rerun generates nothing, a larger budget generates only the
answers it lacks, and answers the full exam stage already generated are reused (and vice
versa). It counts the student generations it asked for (whether generated now or read from the
cache), against the full exam's: every distinct TR of a TP, with or without an answer, on every
EP and repeat.
"""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params, ParamsError
from lbt.engines.engine import Engine
from lbt.engines.registry import make_engine
from lbt.methods.m1.adaptive import RANKED_BY, race
from lbt.methods.m1.config import SelectionParams, Ties
from lbt.tables import write_json, write_table
from lbt.tasks.base import SPLITS, Task
from lbt.tasks.make import make_task
from lbt.teaching.exams import configured_exam_pairs, exam_requests, golds_by_id, text_digest

KEYS = ["tp_id"]
SPLIT = SPLITS["eval"]


def adaptive_stage(params: Params, teachers: list[str], students: list[str]) -> pl.DataFrame:
    """Every (teacher, student) pair's race, in one stage (one process pays the model-library
    imports once); one row per pair: accuracy per method and the generations it asked for."""
    rows = []
    for teacher in teachers:
        for student in students:
            m = adaptive_exams(params, teacher, student)
            accuracy = {f"{method} accuracy": v for method, v in m["accuracy"].items()}
            rows.append({"teacher": teacher, "student": student, **accuracy,
                         "student generations": m["student_generations"], "full exam": m["full_exam_generations"],
                         "generated now": m["generations"]["generated"]})
    return pl.DataFrame(rows)


def adaptive_exams(params: Params, teacher: str, student: str) -> dict:
    """Runs the race for one pair; writes its picks and metrics."""
    problems, model = pl.read_parquet(paths.PROBLEMS), params.students[student]
    rationales = pl.read_parquet(paths.rationales(teacher)).with_columns(
        tr=pl.col("text").map_elements(text_digest, return_dtype=pl.String))
    with make_task(params) as task, make_engine(model, params.cache_path) as engine:
        pairs = configured_exam_pairs(task, problems, rationales, SPLIT, params.exam, params.cache_path).with_columns(
            tr=pl.col("text").map_elements(text_digest, return_dtype=pl.String))
        groups = task.answer_groups(rationales["answer"].to_list(), scopes=rationales["tp_id"].to_list(),
                                    mode=task.grouping_modes[0])
        trs = rationales.with_columns(group=pl.Series(groups, dtype=pl.String))
        units, classes = race_inputs(trs, pairs, params.exam.repeats)
        grader = ExamGrader(task, engine, model.chat, problems, pairs, params)
        result = race(units, classes, KEYS, grader, params.selection.adaptive, params.seed, tie_rule(params))
        generated = engine.stats.as_dict()
    picks = every_tp(result.picks, rationales).select(
        pl.lit(teacher).alias("teacher"), pl.lit(student).alias("student"), "tp_id", "method", "group", "correct")
    write_table(picks, paths.adaptive_picks(teacher, student))
    used, full = generations_used(result.units), full_exam_generations(pairs, params.exam.repeats)
    metrics = {
        "accuracy": {m: round(v, 4) for m, v in picks.group_by("method").agg(pl.col("correct").mean()).iter_rows()},
        "student_generations": used, "full_exam_generations": full, "fraction": round(used / max(full, 1), 4),
        "rounds": result.rounds, "tps_examined": int(result.units.filter(pl.col("grade").is_not_null())
                                                     ["tp_id"].n_unique()),
        "generations": generated,
    }
    write_json(paths.adaptive_metrics(teacher, student), metrics)
    return metrics


def tie_rule(params: Params) -> Ties:
    """`selection.ties` when the params file sets it (the stage then reads it), else its default."""
    try:
        return params.selection.ties
    except ParamsError:
        return SelectionParams.model_fields["ties"].default


def every_tp(picks: pl.DataFrame, rationales: pl.DataFrame) -> pl.DataFrame:
    """The picks with a row for every TP and method: a TP none of whose TRs has an answer gets no
    answer (group null), which counts as wrong."""
    methods = pl.DataFrame({"method": [str(m) for m in RANKED_BY]})
    grid = rationales.select("tp_id").unique().join(methods, how="cross")
    return grid.join(picks, on=["tp_id", "method"], how="left").with_columns(
        correct=pl.col("correct").fill_null(False)).sort("tp_id", "method")


def race_inputs(trs: pl.DataFrame, pairs: pl.DataFrame, repeats: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The race's units (one per distinct TR with an answer, EP and repeat; weight = the TR's copies
    among the TP's TRs) and answer classes (votes, first sample, correctness of its first TR)."""
    answered = trs.filter(pl.col("group").is_not_null())
    weights = answered.group_by("tp_id", "tr", "group").agg(weight=pl.len().cast(pl.Float64))
    eps = pairs.select("tp_id", "tr", "ep_id").unique()
    reps = pl.DataFrame({"rep": list(range(repeats))}, schema={"rep": pl.Int64})
    units = weights.join(eps, on=["tp_id", "tr"]).join(reps, how="cross").sort("tp_id", "tr", "ep_id", "rep")
    classes = answered.sort("tp_id", "sample").group_by("tp_id", "group", maintain_order=True).agg(
        votes=pl.len(), first_sample=pl.col("sample").first(), correct=pl.col("correct").first())
    return units, classes


class ExamGrader:
    """Grades a batch of units by asking the student: one request per (TR, EP) for its first
    `rep + 1` answers, so every answer is the exam stage's answer of that repeat."""

    def __init__(self, task: Task, engine: Engine, chat: bool, problems: pl.DataFrame, pairs: pl.DataFrame,
                 params: Params) -> None:
        self.task, self.engine, self.chat, self.params = task, engine, chat, params
        self.pairs = pairs.unique(["tp_id", "tr", "ep_id"], keep="first", maintain_order=True)
        self.gold_of = golds_by_id(task, problems)

    def __call__(self, units: pl.DataFrame) -> pl.Series:
        wanted = units.group_by("tp_id", "tr", "ep_id").agg(n=pl.col("rep").max() + 1).join(
            self.pairs, on=["tp_id", "tr", "ep_id"])
        requests = exam_requests(self.task, self.chat, wanted, self.params.exam, self.params.seed,
                                 wanted["n"].to_list())
        outputs = self.engine.generate(requests, desc="adaptive exams")
        text_of = {(tp, tr, ep): [c.text for c in cs]
                   for (tp, tr, ep), cs in zip(wanted.select("tp_id", "tr", "ep_id").iter_rows(), outputs)}
        rows = units.select("tp_id", "tr", "ep_id", "rep").iter_rows()
        answers, golds = [], []
        for tp, tr, ep, rep in rows:
            answers.append(self.task.extract_answer(text_of[(tp, tr, ep)][rep]))
            golds.append(self.gold_of[ep])
        return pl.Series(self.task.grade_many(answers, golds), dtype=pl.Float64)


def generations_used(units: pl.DataFrame) -> int:
    """Student generations the race asked for: per (TP, TR, EP), answers up to its highest repeat."""
    examined = units.filter(pl.col("grade").is_not_null())
    return int(examined.group_by("tp_id", "tr", "ep_id").agg(n=pl.col("rep").max() + 1)["n"].sum())


def full_exam_generations(pairs: pl.DataFrame, repeats: int) -> int:
    """What the full exam generates: every distinct TR of a TP (answer or not) on each EP, each repeat."""
    return pairs.select("tp_id", "tr", "ep_id").n_unique() * repeats
