"""The teaching core's stages: rationales per teacher, exams per (teacher, student) pair, on
either split, and the scores of every pair on the evaluation split (what M1 and the report read)."""

from __future__ import annotations

from lbt import paths
from lbt.config import Params, ParamsError
from lbt.dag import Stage, split_prefix
from lbt.engines.config import ModelConfig
from lbt.tasks.registry import TASKS
from lbt.teaching.config import with_debugged
from lbt.teaching.names import pair_names, self_debugging, teacher_names


def debug_reads(params: Params) -> list[str]:
    """`self_debug`, read only where the params file has it."""
    return ["self_debug"] if params.has("self_debug") else []


def answer_reads(params: Params) -> list[str]:
    """The sections that prompting, grading and self-debugging answers read."""
    return [*TASKS[params.task].answers, *debug_reads(params)]


def stages(params: Params) -> list[Stage]:
    """On the evaluation split: every teacher's TRs, every pair's exams, the pairs' LbT scores."""
    if not TASKS[params.task].exams:
        return []
    debug, answers = checked_self_debugging(params), answer_reads(params)
    out = [rationales_stage(t, m, answers, debug[0]) for t, m in params.teachers.items()]
    out += [exams_stage(t, s, m, answers, debug[1]) for t in teacher_names(params) for s, m in params.students.items()]
    scores = str(paths.lbt_scores())
    out.append(Stage("scores", "teaching/scores", ["teachers", "students", *debug_reads(params)],
                     deps=[str(paths.exams(t, s)) for t, s in pair_names(params)], outs=[scores], reported=[scores]))
    return out


def checked_self_debugging(params: Params) -> tuple[bool, bool]:
    """(teacher, student) self-debugging; only tasks whose answers are programs can say why one fails."""
    debug = self_debugging(params)
    if any(debug) and not TASKS[params.task].programs:
        can = ", ".join(name for name, spec in TASKS.items() if spec.programs)
        raise ParamsError(f"params.yaml: `self_debug`: the {params.task} task gives no feedback on answers (only "
                          f"{can} do): set self_debug.teacher and self_debug.student to false.")
    return debug


def rationales_stage(teacher: str, model: ModelConfig, answers: list[str], debug: bool = False,
                     split: str = "eval") -> Stage:
    names = with_debugged([teacher], debug)
    on_train = split != "eval"  # the training split's stages read M2's number of TRs per TP
    metrics = [str(paths.rationales_metrics(t, split)) for t in names]
    return Stage(
        f"{split_prefix('rationales', split)}-{teacher}", "teaching/rationales",
        ["task", *answers, "seed", "cache_path", f"teachers.{teacher}", "rationales",
         *(["m2.num_rationales"] if on_train else [])],
        deps=[str(paths.PROBLEMS)],
        outs=[str(f(t, split)) for t in names for f in (paths.rationales, paths.greedy)],
        metrics=metrics, args={"teacher": teacher, **({"split": split} if on_train else {})}, models=[model],
        reported=metrics if on_train else [*(str(paths.rationales(t)) for t in names), *metrics],
    )


def exams_stage(teacher: str, student: str, model: ModelConfig, answers: list[str], debug: bool = False,
                split: str = "eval") -> Stage:
    names = with_debugged([student], debug)
    metrics = [str(paths.exams_metrics(teacher, s, split)) for s in names]
    return Stage(
        f"{split_prefix('exams', split)}-{paths.pair_name(teacher, student)}", "teaching/exams",
        ["task", *answers, "seed", "cache_path", f"students.{student}", "exam"],
        deps=[str(paths.PROBLEMS), str(paths.rationales(teacher, split))],
        outs=[str(paths.exams(teacher, s, split)) for s in names], metrics=metrics,
        args={"teacher": teacher, "student": student, **({"split": split} if split != "eval" else {})},
        models=[model], reported=metrics,
    )
