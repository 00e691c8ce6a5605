"""Report pieces every method shares: the setup summary and the generation counts."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.tables import read_json
from lbt.tasks.registry import make_task
from lbt.teaching import names


def _models(models: dict) -> str:
    return ", ".join(f"`{name}` ({m.backend})" for name, m in models.items())


def setup_summary(params: Params) -> str:
    r = read_json(paths.rationales_metrics(next(iter(params.teachers))))
    lines = [
        f"**Task** `{params.task}` · **teachers** {_models(params.teachers)} · "
        f"**students** {_models(params.students)}",
        f"**{r.get('n_tp', '?')} TPs**, {params.rationales.num_rationales} TRs each "
        f"(temperature {params.rationales.temperature}), exams of {params.exam.repeats} answer(s) per EP.",
        task_summary(params),
    ]
    return "\n\n".join(line for line in lines if line)


def models_summary(params: Params) -> str:
    """The task, every model, and the task's own summary (reports without M1's teaching stages)."""
    return "\n\n".join(line for line in [
        f"**Task** `{params.task}` · **models** {_models({**params.teachers, **params.students})}",
        task_summary(params)] if line)


def task_summary(params: Params) -> str:
    with make_task(params) as task:
        return task.summary()


def generation_table(params: Params) -> pl.DataFrame:
    """Samples each teaching stage asked for: generated, read from the request cache, or shared
    with an identical sample of the same stage (a self-debugged model's row: its revisions)."""
    rows = []
    for teacher in names.teacher_names(params):
        counts = read_json(paths.rationales_metrics(teacher)).get("generations", {})
        rows.append({"stage": "rationales", "teacher": teacher, "student": None, **counts})
        for student in names.student_names(params):
            counts = read_json(paths.exams_metrics(teacher, student)).get("generations", {})
            rows.append({"stage": "exams", "teacher": teacher, "student": student, **counts})
    return pl.DataFrame(rows)
