"""Exams: each student answers its TP's EPs with one TR as its in-context example."""

from __future__ import annotations

import hashlib

import polars as pl

from lbt.config import ExamParams
from lbt.engines import Engine, GenerationRequest, derive_seed
from lbt.tasks import Task

EXAM_SCHEMA = {
    "tp_id": pl.String, "teacher": pl.String, "sample": pl.Int64, "student": pl.String, "ep_id": pl.String,
    "rep": pl.Int64, "text": pl.String, "answer": pl.String, "correct": pl.Boolean, "n_tokens": pl.Int64,
}


def exam_pairs(problems: pl.DataFrame, rationales: pl.DataFrame, max_eps: int | None) -> pl.DataFrame:
    """One row per (TR, EP): the TR's TP question and text, the EP's question and gold answer."""
    tps = problems.filter(pl.col("role") == "tp").select(
        tp_id="problem_id", family_id="family_id", tp_question="question")
    eps = problems.filter(pl.col("role") == "ep").select(
        "family_id", ep_id="problem_id", ep_question="question", ep_answer="answer")
    if max_eps is not None:
        eps = eps.sort("ep_id").group_by("family_id", maintain_order=True).head(max_eps)
    return (
        rationales.select("tp_id", "teacher", "sample", "text")
        .join(tps, on="tp_id").join(eps, on="family_id")
        .sort("tp_id", "sample", "ep_id")
    )


def run_exam(task: Task, engine: Engine, chat: bool, pairs: pl.DataFrame, p: ExamParams,
             base_seed: int) -> pl.DataFrame:
    """Every (TR, EP) pair answered `p.repeats` times by one student, graded.

    A TR's seed comes from its text, not its sample number: identical TRs sit the same exam
    (same prompts, same seeds), so they get the same score and cost one generation."""
    requests = [
        GenerationRequest(
            **task.exam_prompt(tp_q, text, ep_q, chat), n=p.repeats, temperature=p.temperature,
            top_p=p.top_p, top_k=p.top_k, max_tokens=p.max_tokens,
            seed=derive_seed(base_seed, "exam", _digest(text), ep_id),
        )
        for text, tp_q, ep_id, ep_q in pairs.select("text", "tp_question", "ep_id", "ep_question").iter_rows()
    ]
    outputs = engine.generate(requests, desc="exams")
    rows, golds = [], []
    keys = pairs.select("tp_id", "teacher", "sample", "ep_id", "ep_answer").iter_rows()
    for (tp_id, teacher, sample, ep_id, gold), completions in zip(keys, outputs):
        for rep, c in enumerate(completions):
            rows.append((tp_id, teacher, sample, engine.name, ep_id, rep, c.text,
                         task.extract_answer(c.text), None, c.n_tokens))
            golds.append(gold)
    table = pl.DataFrame(rows, schema=EXAM_SCHEMA, orient="row")
    return table.with_columns(correct=pl.Series(task.is_correct_many(table["answer"].to_list(), golds)))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
