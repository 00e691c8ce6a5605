"""The teaching stages: read their inputs, run the teaching core, write tables and metrics.

Rationales run per teacher, exams per (teacher, student) pair (the scores stage, which gathers
every pair, lives in `lbt.teaching.scores`); each on one split of teaching problems (`eval` for
M1, `train` for M2). With `self_debug` on, the rationales stage also writes the teacher's
self-debugged TRs (teacher `<name>+debug`), which sit exams of their own, and the exams stage
also writes the student's self-debugged exam answers (student `<name>+debug`)."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.engines.engine import Engine
from lbt.engines.registry import make_engine
from lbt.tables import mean, write_json, write_table
from lbt.tasks.base import SPLITS, Task
from lbt.tasks.make import make_task
from lbt.teaching.config import DEBUGGED, RationaleParams, SamplingParams
from lbt.teaching.exams import configured_exam_pairs, exam_prompts, golds_by_id, run_exam
from lbt.teaching.names import self_debugging
from lbt.teaching.rationales import generate_rationales
from lbt.teaching.revision import revise


def rationales(params: Params, teacher: str, split: str = "eval") -> tuple[pl.DataFrame, pl.DataFrame]:
    problems, model = pl.read_parquet(paths.PROBLEMS), params.teachers[teacher]
    sampling = rationale_params(params, split)
    with make_task(params) as task, make_engine(model, params.cache_path) as engine:
        sampled, greedy = generate_rationales(task, engine, model.chat, problems, SPLITS[split], sampling, params.seed)
        _write_rationales(params, teacher, split, sampled, greedy, engine.stats.as_dict())
        if self_debugging(params)[0]:
            before = engine.stats.as_dict()
            greedy_sampling = sampling.model_copy(update={"temperature": 0.0})  # greedy TAs revise greedily
            sampled, greedy = (_revise_rationales(task, engine, model.chat, problems, t, p, params.seed)
                               for t, p in ((sampled, sampling), (greedy, greedy_sampling)))
            _write_rationales(params, f"{teacher}{DEBUGGED}", split, sampled, greedy,
                              _since(before, engine.stats.as_dict()))
    return sampled, greedy


def _write_rationales(params: Params, teacher: str, split: str, sampled: pl.DataFrame, greedy: pl.DataFrame,
                      generations: dict) -> None:
    named = [t.with_columns(teacher=pl.lit(teacher)) for t in (sampled, greedy)]
    write_table(named[0], paths.rationales(teacher, split))
    write_table(named[1], paths.greedy(teacher, split))
    metrics = {
        "n_tp": greedy.height,
        "num_rationales": rationale_params(params, split).num_rationales,
        "accuracy": {"sampled": mean(sampled["correct"]), "greedy": mean(greedy["correct"])},
        "no_answer_rate": mean(sampled["answer"].is_null()),
        "generations": generations,
    }
    if "revised" in sampled.columns:
        metrics["revised_rate"] = mean(sampled["revised"])
    write_json(paths.rationales_metrics(teacher, split), metrics)


def _revise_rationales(task: Task, engine: Engine, chat: bool, problems: pl.DataFrame, table: pl.DataFrame,
                       sampling: SamplingParams, seed: int) -> pl.DataFrame:
    """The teacher's TRs after one round of self-debugging of those that fail their visible tests."""
    rows = table.select("tp_id").join(problems.rename({"problem_id": "tp_id"}), on="tp_id", how="left")
    prompts = [task.teacher_prompt(q, [], chat) for q in rows["question"]]
    return revise(task, engine, chat, table, prompts, task.golds(rows), sampling, seed, desc="teacher self-debugging")


def rationale_params(params: Params, split: str) -> RationaleParams:
    """The `rationales` section; on the training split with M2's number of TRs per TP
    (`m2.num_rationales`, which that stage reads) when it sets one."""
    if split != "train" or params.m2.num_rationales is None:
        return params.rationales
    return params.rationales.model_copy(update={"num_rationales": params.m2.num_rationales})


def exams(params: Params, teacher: str, student: str, split: str = "eval") -> pl.DataFrame:
    """`teacher` may be a self-debugged teacher (`<name>+debug`): its TRs sit the exam."""
    problems, model = pl.read_parquet(paths.PROBLEMS), params.students[student]
    with make_task(params) as task, make_engine(model, params.cache_path) as engine:
        pairs = configured_exam_pairs(task, problems, pl.read_parquet(paths.rationales(teacher, split)),
                                      SPLITS[split], params.exam, params.cache_path)
        table = run_exam(task, engine, model.chat, problems, pairs, params.exam, params.seed)
        _write_exams(teacher, student, split, table, engine.stats.as_dict())
        if self_debugging(params)[1]:
            before = engine.stats.as_dict()
            revised = revise(task, engine, model.chat, table, exam_prompts(task, pairs, table, model.chat),
                             _exam_golds(task, problems, table), params.exam, params.seed,
                             desc="student self-debugging")
            _write_exams(teacher, f"{student}{DEBUGGED}", split, revised, _since(before, engine.stats.as_dict()))
    return table


def _exam_golds(task: Task, problems: pl.DataFrame, table: pl.DataFrame) -> list:
    gold_of = golds_by_id(task, problems)
    return [gold_of[ep] for ep in table["ep_id"]]


def _write_exams(teacher: str, student: str, split: str, table: pl.DataFrame, generations: dict) -> None:
    table = table.with_columns(student=pl.lit(student))
    write_table(table, paths.exams(teacher, student, split))
    metrics = {
        "n_exam_answers": table.height,
        "accuracy": mean(table["correct"]),
        "no_answer_rate": mean(table["answer"].is_null()),
        "generations": generations,
    }
    if "revised" in table.columns:
        metrics["revised_rate"] = mean(table["revised"])
    write_json(paths.exams_metrics(teacher, student, split), metrics)


def _since(before: dict, after: dict) -> dict:
    """Generation counts of what happened between two snapshots of an engine's stats."""
    return {key: after[key] - before[key] for key in after}

