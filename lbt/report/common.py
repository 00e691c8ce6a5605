"""Report pieces every method shares: the setup summary and the generation counts."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.config import Params
from lbt.methods.m2.config import m2_students
from lbt.tables import read_json
from lbt.tasks.make import make_task
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
    """Samples each generating stage asked for: generated, read from the request cache, or shared
    with an identical sample of the same stage (a self-debugged model's row: its revisions). M1's
    teaching stages, then those of the adaptive exams, M2's training split and M3 that ran."""
    rows = []
    for teacher in names.teacher_names(params):
        rows.append(_counts("rationales", teacher, None, paths.rationales_metrics(teacher)))
        rows += [_counts("exams", teacher, student, paths.exams_metrics(teacher, student))
                 for student in names.student_names(params)]
    rows += [_counts("adaptive exams", t, s, paths.adaptive_metrics(t, s))
             for t in params.teachers for s in params.students if paths.adaptive_metrics(t, s).is_file()]
    if params.has("m2"):
        teacher = params.m2.teacher
        rows.append(_counts("M2 rationales (train)", teacher, None, paths.rationales_metrics(teacher, "train")))
        rows += [_counts("M2 exams (train)", teacher, s, paths.exams_metrics(teacher, s, "train"))
                 for s in m2_students(params)]
    if params.has("m3") and paths.M3_METRICS.is_file():
        m3 = read_json(paths.M3_METRICS).get("generations", {})
        rows += [{"stage": "M3", "teacher": model if model in params.teachers else None,
                  "student": None if model in params.teachers else model, **counts} for model, counts in m3.items()]
    return pl.DataFrame(rows)


def _counts(stage: str, teacher: str, student: str | None, metrics_file) -> dict:
    counts = read_json(metrics_file).get("generations", {})
    return {"stage": stage, "teacher": teacher, "student": student, **counts}
