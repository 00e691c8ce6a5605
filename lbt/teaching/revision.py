"""Self-debugging: one round in which a model revises each of its answers that fails, after
reading the task's feedback (for code: the visible test that failed and its error).

The revision replaces the row's text and answer (it is a whole new solution); rows that passed
stay as they were. `revised` marks the revised rows and `n_tokens` adds the revision's tokens.
A revision's seed comes from the prompt and the failed completion, so identical failures
(identical TRs, identical exam answers) get identical revisions, generated once."""

from __future__ import annotations

import json

import polars as pl

from lbt.engines.base import GenerationRequest, derive_seed
from lbt.engines.engine import Engine
from lbt.tasks.base import PromptSpec, Task
from lbt.tasks.registry import TASKS
from lbt.teaching.config import SamplingParams
from lbt.teaching.exams import text_digest


def revise(task: Task, engine: Engine, chat: bool, table: pl.DataFrame, prompts: list[PromptSpec], golds: list,
           p: SamplingParams, base_seed: int, desc: str) -> pl.DataFrame:
    """`table` (rows with text, answer, n_tokens, grade, correct; `prompts` and `golds` per row)
    after one round of self-debugging of its failing rows."""
    if not TASKS[task.name].programs:
        raise ValueError(f"self_debug: the {task.name} task cannot say why an answer fails; turn self_debug off.")
    feedback = task.feedback(table["answer"].to_list(), golds)
    todo = [i for i, f in enumerate(feedback) if f is not None]
    texts = table["text"].to_list()
    requests = [
        GenerationRequest(**task.revision_prompt(prompts[i], texts[i], feedback[i], chat), n=1,  # type: ignore[arg-type]
                          temperature=p.temperature, top_p=p.top_p, top_k=p.top_k, max_tokens=p.max_tokens,
                          seed=derive_seed(base_seed, "revision", text_digest(json.dumps(prompts[i], sort_keys=True)),
                                           text_digest(texts[i])))
        for i in todo
    ]
    completions = [c for (c,) in engine.generate(requests, desc=desc)]
    answers = [task.extract_answer(c.text) for c in completions]
    grades = task.grade_many(answers, [golds[i] for i in todo])
    return _replace_rows(table, todo, completions, answers, grades)


def _replace_rows(table: pl.DataFrame, rows: list[int], completions, answers, grades) -> pl.DataFrame:
    updates = pl.DataFrame({
        "_row": rows, "_text": [c.text for c in completions], "_answer": answers,
        "_tokens": [c.n_tokens for c in completions], "_grade": grades,
        "_finish": [c.finish_reason for c in completions],
    }, schema={"_row": pl.UInt32, "_text": pl.String, "_answer": pl.String, "_tokens": pl.Int64,
               "_grade": pl.Float64, "_finish": pl.String})
    joined = table.with_row_index("_row").join(updates, on="_row", how="left")
    revised = pl.col("_row").is_in(rows)
    columns = [
        pl.when(revised).then(pl.col("_text")).otherwise(pl.col("text")).alias("text"),
        pl.when(revised).then(pl.col("_answer")).otherwise(pl.col("answer")).alias("answer"),
        (pl.col("n_tokens") + pl.col("_tokens").fill_null(0)).alias("n_tokens"),
        pl.when(revised).then(pl.col("_grade")).otherwise(pl.col("grade")).alias("grade"),
        revised.alias("revised"),
    ]
    if "finish_reason" in table.columns:
        columns.append(pl.when(revised).then(pl.col("_finish")).otherwise(pl.col("finish_reason")).alias("finish_reason"))
    out = joined.with_columns(columns).with_columns(correct=pl.col("grade") >= 1.0)
    return out.select(*table.columns, "revised")

