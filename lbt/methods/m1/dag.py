"""M1's stages: the adaptive exams (when `selection.adaptive` is on), the selection of every
method, and for tasks whose answers are programs the S-scores of the picks (`select_code`)."""

from __future__ import annotations

from lbt import paths
from lbt.config import Params
from lbt.dag import Stage
from lbt.engines.config import ModelConfig
from lbt.tasks.registry import TASKS
from lbt.teaching.dag import answer_reads
from lbt.teaching.names import teacher_names


def stages(params: Params) -> list[Stage]:
    spec = TASKS[params.task]
    if not spec.exams:
        return []
    answers, teachers = answer_reads(params), teacher_names(params)
    selection = params.selection if params.has("selection") else None  # absent: the select stage says so
    adaptive = selection is not None and selection.adaptive is not None and selection.adaptive.enabled
    pairs = [(t, s) for t in params.teachers for s in params.students] if adaptive else []
    out = [adaptive_stage(list(params.teachers), params.students, answers,
                          "ties" in selection.model_fields_set)] if selection and adaptive else []
    out.append(select_stage(teachers, answers, pairs))
    if spec.programs:
        out.append(code_select_stage(teachers, answers))
    return out


def adaptive_stage(teachers: list[str], students: dict[str, ModelConfig], answers: list[str], ties: bool) -> Stage:
    """One stage for every (teacher, student) pair; reads `selection.adaptive` and the tie rule
    (when the file sets one), not the whole section."""
    metrics = [str(paths.adaptive_metrics(t, s)) for t in teachers for s in students]
    return Stage(
        "adaptive", "m1/adaptive",
        ["task", *answers, "seed", "cache_path", *(f"students.{s}" for s in students), "exam", "selection.adaptive",
         *(["selection.ties"] if ties else [])],
        deps=[str(paths.PROBLEMS), *(str(paths.rationales(t)) for t in teachers)],
        outs=[str(paths.adaptive_picks(t, s)) for t in teachers for s in students], metrics=metrics,
        args={"teachers": ",".join(teachers), "students": ",".join(students)}, models=list(students.values()),
        reported=metrics,
    )


def _teaching_deps(teachers: list[str]) -> list[str]:
    return [str(paths.PROBLEMS), str(paths.lbt_scores()), *(str(paths.rationales(t)) for t in teachers),
            *(str(paths.greedy(t)) for t in teachers)]


def select_stage(teachers: list[str], answers: list[str], adaptive: list[tuple[str, str]]) -> Stage:
    tables = [str(paths.SELECTIONS), str(paths.RESAMPLING), str(paths.BREAKDOWN)]
    return Stage(
        "select", "m1/select", ["task", *answers, "seed", "teachers", "students", "selection"],
        deps=[*_teaching_deps(teachers),
              *(str(p) for t, s in adaptive for p in (paths.adaptive_picks(t, s), paths.adaptive_metrics(t, s)))],
        outs=tables, metrics=[str(paths.SELECTION_METRICS)],
        plots=[str(paths.figure(name)) for name in ("accuracy_by_method", "accuracy_vs_n", "accuracy_vs_compute")],
        reported=[*tables, str(paths.SELECTION_METRICS)],
    )


def code_select_stage(teachers: list[str], answers: list[str]) -> Stage:
    files = [str(paths.CODE_SELECTIONS), str(paths.CODE_METRICS)]
    return Stage(
        "select_code", "m1/select_code", ["task", *answers, "seed", "teachers", "students", "selection"],
        deps=_teaching_deps(teachers), outs=files[:1], metrics=files[1:],
        plots=[str(paths.figure("code_s_scores"))], reported=files,
    )
