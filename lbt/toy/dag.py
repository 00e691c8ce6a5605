"""The toy training stage (`train_toy`): the tiny teacher and student of a task that trains them."""

from __future__ import annotations

from lbt import paths
from lbt.config import Params, ParamsError
from lbt.dag import Stage
from lbt.tasks.registry import TASKS
from lbt.toy.config import check_persona_students
from lbt.toy.curriculum import ROLES


def stages(params: Params) -> list[Stage]:
    training = TASKS[params.task].training
    if training is None:
        return []
    if training.personas:
        _check_persona_students(params)
    return [Stage("train_toy", training.notebook, list(training.reads), outs=[str(paths.toy_model(r)) for r in ROLES],
                  metrics=[str(paths.train_metrics(r)) for r in ROLES])]


def _check_persona_students(params: Params) -> None:
    """Students that run the toy student model must name one of its personas (see lbt.toy.config)."""
    try:
        check_persona_students(params.toy.student, params.students, str(paths.toy_model("student")))
    except ValueError as err:
        raise ParamsError(f"{params.source}: {err}.") from None
