"""M2's stages: the teacher's rationales and its students' exams on the training split (the
teaching core's stages), then pairs, DPO and the evaluation of the tuned teachers."""

from __future__ import annotations

from lbt import paths
from lbt.config import Params
from lbt.dag import Stage
from lbt.methods.m2.config import m2_students, m2_teacher
from lbt.tasks.registry import TASKS
from lbt.teaching.dag import exams_stage, rationales_stage

SPLIT = "train"


def stages(params: Params) -> list[Stage]:
    spec = TASKS[params.task]
    if not (params.has("m2") and spec.exams):
        return []
    teacher, model, chosen, answers = params.m2.teacher, m2_teacher(params), m2_students(params), list(spec.answers)
    teaching = [rationales_stage(teacher, model, answers, split=SPLIT)]
    teaching += [exams_stage(teacher, s, params.students[s], answers, split=SPLIT) for s in chosen]
    return teaching + [
        Stage("m2_pairs", "m2/pairs", ["students", "m2.teacher", "m2.students", "m2.seeds", "m2.pairs"],
              deps=[str(paths.PROBLEMS), str(paths.rationales(teacher, SPLIT)),
                    *(str(paths.exams(teacher, s, SPLIT)) for s in chosen)],
              outs=[str(paths.M2_PAIRS), str(paths.lbt_scores(SPLIT))], metrics=[str(paths.M2_PAIRS_METRICS)],
              reported=[str(paths.M2_PAIRS), str(paths.M2_PAIRS_METRICS)]),
        Stage("m2_train", "m2/train", [f"teachers.{teacher}", "m2.teacher", "m2.seeds", "m2.pairs", "m2.dpo"],
              deps=[str(paths.M2_PAIRS)], outs=[str(paths.M2_MODELS), str(paths.M2_CURVES), str(paths.M2_LIVE)],
              metrics=[str(paths.M2_TRAIN_METRICS)], plots=[str(paths.M2_CURVES_FIGURE)], models=[model],
              reported=[str(paths.M2_CURVES), str(paths.M2_TRAIN_METRICS)]),
        Stage("m2_evaluate", "m2/evaluate",
              ["task", *answers, "seed", "cache_path", f"teachers.{teacher}", "m2.teacher", "m2.seeds", "m2.evaluate"],
              deps=[str(paths.PROBLEMS), str(paths.M2_MODELS)], outs=[str(paths.M2_EVALUATION)],
              metrics=[str(paths.M2_METRICS)], plots=[str(paths.M2_ACCURACY_FIGURE)], models=[model],
              reported=[str(paths.M2_EVALUATION), str(paths.M2_METRICS)]),
    ]
