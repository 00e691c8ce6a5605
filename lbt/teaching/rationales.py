"""Teacher rationales: N sampled TRs per TP of a split (plus the greedy one for the baseline).

Each row keeps the prompt that produced it (M2's preference pairs train on it) and the TA's
grade: a score in [0, 1] from the task, and `correct` (grade 1)."""

from __future__ import annotations

import json

import polars as pl

from lbt.engines.base import GenerationRequest, Sample, derive_seed
from lbt.engines.engine import Engine
from lbt.tasks.base import Split, Task
from lbt.teaching.config import RationaleParams

RATIONALE_SCHEMA = {
    "tp_id": pl.String, "teacher": pl.String, "sample": pl.Int64, "seed": pl.Int64, "prompt": pl.String,
    "text": pl.String, "answer": pl.String, "n_tokens": pl.Int64, "finish_reason": pl.String,
}


def teacher_requests(task: Task, tps: pl.DataFrame, chat: bool, p: RationaleParams, n: int,
                     temperature: float, base_seed: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            **task.teacher_prompt(question, [], chat), n=n, temperature=temperature, top_p=p.top_p,
            top_k=p.top_k, max_tokens=p.max_tokens, seed=derive_seed(base_seed, "rationale", tp_id),
        )
        for tp_id, question in tps.select("problem_id", "question").iter_rows()
    ]


def generate_rationales(task: Task, engine: Engine, chat: bool, problems: pl.DataFrame, split: Split,
                        p: RationaleParams, base_seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(sampled rationales, greedy rationales) for every TP of `split`, graded against its gold."""
    tps = problems.filter(pl.col("role") == split.tp_role)
    sampled = teacher_requests(task, tps, chat, p, p.num_rationales, p.temperature, base_seed)
    greedy = teacher_requests(task, tps, chat, p, 1, 0.0, base_seed)
    sampled_out = engine.generate(sampled, desc="teacher rationales")
    greedy_out = engine.generate(greedy, desc="teacher greedy")
    return (
        rationale_table(task, engine.name, tps, sampled, sampled_out),
        rationale_table(task, engine.name, tps, greedy, greedy_out),
    )


def prompt_text(request: GenerationRequest) -> str:
    """A request's prompt as one string: the raw prompt, or the chat messages as JSON."""
    return request.prompt if request.prompt is not None else json.dumps([list(m) for m in request.messages])


def rationale_table(task: Task, teacher: str, tps: pl.DataFrame, requests, outputs) -> pl.DataFrame:
    rows, golds = [], []
    for tp_id, gold, request, completions in zip(tps["problem_id"], task.golds(tps), requests, outputs):
        prompt = prompt_text(request)
        for i, c in enumerate(completions):
            seed = Sample(request, i).seed if request.temperature > 0 else 0
            rows.append((tp_id, teacher, i, seed, prompt, c.text, task.extract_answer(c.text), c.n_tokens,
                         c.finish_reason))
            golds.append(gold)
    return with_grades(pl.DataFrame(rows, schema=RATIONALE_SCHEMA, orient="row"), task, golds)


def with_grades(table: pl.DataFrame, task: Task, golds: list) -> pl.DataFrame:
    """`grade` (the task's score in [0, 1]) and `correct` (grade 1) for each row's answer."""
    grades = task.grade_many(table["answer"].to_list(), golds)
    return table.with_columns(grade=pl.Series(grades, dtype=pl.Float64)).with_columns(
        correct=pl.col("grade") >= 1.0)
