"""Exams: a student answers a TP's exam problems with one TR as its in-context example.

Which problems form a TP's exam is the task's call (`Task.exam_sets`: functional variants,
the other problems of a group, the nearest problems of a pool)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from lbt import paths
from lbt.engines.base import GenerationRequest, derive_seed
from lbt.engines.engine import Engine
from lbt.tasks.base import PromptSpec, Split, Task, group_exams, variant_exams
from lbt.teaching.config import ExamMaker, ExamParams
from lbt.teaching.rationales import with_grades

EXAM_SCHEMA = {
    "tp_id": pl.String, "teacher": pl.String, "sample": pl.Int64, "student": pl.String, "ep_id": pl.String,
    "rep": pl.Int64, "text": pl.String, "answer": pl.String, "n_tokens": pl.Int64,
}


def exam_pairs(task: Task, problems: pl.DataFrame, rationales: pl.DataFrame, split: Split,
               max_eps: int | None, maker: ExamMaker = "task", k: int = 3,
               embedding_cache: Path | None = None) -> pl.DataFrame:
    """One row per (TR, EP): the TR's TP question and text, the EP's question and its problem row
    index (for the task's gold)."""
    questions = problems.select("problem_id", "question")
    sets = exam_sets(task, problems, split, max_eps, maker, k, embedding_cache).select("tp_id", "ep_id")
    return (
        rationales.select("tp_id", "teacher", "sample", "text")
        .join(sets, on="tp_id")
        .join(questions.rename({"problem_id": "tp_id", "question": "tp_question"}), on="tp_id")
        .join(questions.rename({"problem_id": "ep_id", "question": "ep_question"}), on="ep_id")
        .sort("tp_id", "sample", "ep_id")
    )


def configured_exam_pairs(task: Task, problems: pl.DataFrame, rationales: pl.DataFrame, split: Split,
                          p: ExamParams, cache_path: str) -> pl.DataFrame:
    """`exam_pairs` as the `exam` section configures it (embeddings cached beside the request cache)."""
    return exam_pairs(task, problems, rationales, split, p.max_eps, p.maker, p.k, paths.embeddings_cache(cache_path))


def exam_sets(task: Task, problems: pl.DataFrame, split: Split, max_eps: int | None, maker: ExamMaker = "task",
              k: int = 3, embedding_cache: Path | None = None) -> pl.DataFrame:
    """(tp_id, ep_id) rows by `maker` (see ExamParams.maker); `similar` adds each EP's `distance`."""
    if maker == "similar":
        from lbt.tasks.similar import Embedder, similar_exams

        return similar_exams(problems, split, k, Embedder(embedding_cache))
    makers = {"task": task.exam_sets, "variants": variant_exams, "group": group_exams}
    return makers[maker](problems, split, max_eps)


def run_exam(task: Task, engine: Engine, chat: bool, problems: pl.DataFrame, pairs: pl.DataFrame,
             p: ExamParams, base_seed: int) -> pl.DataFrame:
    """Every (TR, EP) pair answered `p.repeats` times by one student, graded.

    A TR's seed comes from its text, not its sample number: identical TRs sit the same exam
    (same prompts, same seeds), so they get the same score and cost one generation."""
    requests = exam_requests(task, chat, pairs, p, base_seed, [p.repeats] * pairs.height)
    outputs = engine.generate(requests, desc="exams")
    gold_of = golds_by_id(task, problems)
    rows, golds = [], []
    keys = pairs.select("tp_id", "teacher", "sample", "ep_id").iter_rows()
    for (tp_id, teacher, sample, ep_id), completions in zip(keys, outputs):
        for rep, c in enumerate(completions):
            rows.append((tp_id, teacher, sample, engine.name, ep_id, rep, c.text, task.extract_answer(c.text),
                         c.n_tokens))
            golds.append(gold_of[ep_id])
    return with_grades(pl.DataFrame(rows, schema=EXAM_SCHEMA, orient="row"), task, golds)


def golds_by_id(task: Task, problems: pl.DataFrame) -> dict:
    """Each problem's structured gold (`task.golds`), by problem id."""
    return dict(zip(problems["problem_id"], task.golds(problems)))


def exam_requests(task: Task, chat: bool, pairs: pl.DataFrame, p: ExamParams, base_seed: int,
                  repeats: list[int]) -> list[GenerationRequest]:
    """One request per (TR, EP) row of `pairs` for its first `repeats[i]` answers (sample i of a
    request is repeat i: asking for more repeats later reuses the first ones from the cache)."""
    return [
        GenerationRequest(
            **prompt, n=n, temperature=p.temperature, top_p=p.top_p, top_k=p.top_k, max_tokens=p.max_tokens,
            seed=derive_seed(base_seed, "exam", text_digest(text), ep_id),
        )
        for prompt, text, ep_id, n in zip(_prompts(task, pairs, chat), pairs["text"], pairs["ep_id"], repeats)
    ]


def _prompts(task: Task, pairs: pl.DataFrame, chat: bool) -> list[PromptSpec]:
    columns = pairs.select("tp_question", "text", "ep_question").iter_rows()
    return [task.exam_prompt(tp_q, text, ep_q, chat) for tp_q, text, ep_q in columns]


def exam_prompts(task: Task, pairs: pl.DataFrame, table: pl.DataFrame, chat: bool) -> list[PromptSpec]:
    """The prompt of each exam answer of `table` (the rows `run_exam` made from `pairs`)."""
    keys = ["tp_id", "teacher", "sample", "ep_id"]
    return _prompts(task, table.select(keys).join(pairs, on=keys, how="left", maintain_order="left"), chat)


def text_digest(text: str) -> str:
    """A short stable id of a text (a TR's: identical TRs share it, and their exams' seeds)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
