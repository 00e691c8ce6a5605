"""Teacher rationales: N sampled TRs per TP (plus the greedy one for the baseline)."""

from __future__ import annotations

import polars as pl

from lbt.config import RationaleParams
from lbt.engines import Engine, GenerationRequest, derive_seed
from lbt.engines.base import Sample
from lbt.tasks import Task

RATIONALE_SCHEMA = {
    "tp_id": pl.String, "teacher": pl.String, "sample": pl.Int64, "seed": pl.Int64, "text": pl.String,
    "answer": pl.String, "correct": pl.Boolean, "n_tokens": pl.Int64, "finish_reason": pl.String,
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


def generate_rationales(task: Task, engine: Engine, chat: bool, problems: pl.DataFrame,
                        p: RationaleParams, base_seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(sampled rationales, greedy rationales) for every TP, graded against its gold answer."""
    tps = problems.filter(pl.col("role") == "tp")
    sampled = teacher_requests(task, tps, chat, p, p.num_rationales, p.temperature, base_seed)
    greedy = teacher_requests(task, tps, chat, p, 1, 0.0, base_seed)
    sampled_out = engine.generate(sampled, desc="teacher rationales")
    greedy_out = engine.generate(greedy, desc="teacher greedy")
    return (
        _table(task, engine.name, tps, sampled, sampled_out),
        _table(task, engine.name, tps, greedy, greedy_out),
    )


def _table(task: Task, teacher: str, tps: pl.DataFrame, requests, outputs) -> pl.DataFrame:
    rows, golds = [], []
    for (tp_id, gold), request, completions in zip(tps.select("problem_id", "answer").iter_rows(), requests, outputs):
        for i, c in enumerate(completions):
            seed = Sample(request, i).seed if request.temperature > 0 else 0
            rows.append((tp_id, teacher, i, seed, c.text, task.extract_answer(c.text), None,
                         c.n_tokens, c.finish_reason))
            golds.append(gold)
    table = pl.DataFrame(rows, schema=RATIONALE_SCHEMA, orient="row")
    return table.with_columns(correct=pl.Series(task.is_correct_many(table["answer"].to_list(), golds)))
