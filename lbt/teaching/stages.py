"""The teaching stages: read their inputs, run the teaching core, write tables and metrics.

Rationales run per teacher, exams per (teacher, student) pair (the scores stage, which gathers
every pair, lives in `lbt.teaching.scores`); each on one split of teaching problems (`eval` for
M1, `train` for M2)."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.engines.registry import make_engine
from lbt.tables import mean, write_json, write_table
from lbt.tasks.base import SPLITS
from lbt.tasks.registry import make_task
from lbt.teaching.config import RationaleParams
from lbt.teaching.exams import exam_pairs, run_exam
from lbt.teaching.rationales import generate_rationales


def rationales(params: Params, teacher: str, split: str = "eval") -> tuple[pl.DataFrame, pl.DataFrame]:
    problems, model = pl.read_parquet(paths.PROBLEMS), params.teachers[teacher]
    sampling = rationale_params(params, split)
    with make_task(params) as task, make_engine(model, params.cache_path) as engine:
        sampled, greedy = generate_rationales(task, engine, model.chat, problems, SPLITS[split], sampling, params.seed)
    write_table(sampled, paths.rationales(teacher, split))
    write_table(greedy, paths.greedy(teacher, split))
    write_json(paths.rationales_metrics(teacher, split), {
        "n_tp": greedy.height,
        "num_rationales": sampling.num_rationales,
        "accuracy": {"sampled": mean(sampled["correct"]), "greedy": mean(greedy["correct"])},
        "no_answer_rate": mean(sampled["answer"].is_null()),
        "generations": engine.stats.as_dict(),
    })
    return sampled, greedy


def rationale_params(params: Params, split: str) -> RationaleParams:
    """The `rationales` section; on the training split with M2's number of TRs per TP
    (`m2.num_rationales`, which that stage reads) when it sets one."""
    if split != "train" or params.m2.num_rationales is None:
        return params.rationales
    return params.rationales.model_copy(update={"num_rationales": params.m2.num_rationales})


def exams(params: Params, teacher: str, student: str, split: str = "eval") -> pl.DataFrame:
    problems, model = pl.read_parquet(paths.PROBLEMS), params.students[student]
    with make_task(params) as task, make_engine(model, params.cache_path) as engine:
        pairs = exam_pairs(task, problems, pl.read_parquet(paths.rationales(teacher, split)), SPLITS[split],
                           params.exam.max_eps)
        table = run_exam(task, engine, model.chat, problems, pairs, params.exam, params.seed)
    write_table(table, paths.exams(teacher, student, split))
    write_json(paths.exams_metrics(teacher, student, split), {
        "n_exam_answers": table.height,
        "accuracy": mean(table["correct"]),
        "no_answer_rate": mean(table["answer"].is_null()),
        "generations": engine.stats.as_dict(),
    })
    return table
