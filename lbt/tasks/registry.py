"""Tasks by name: the one place that maps `task:` in params.yaml to a Task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from lbt.tasks.base import Task

if TYPE_CHECKING:
    from lbt.config import Params

TaskName = Literal["toy", "math", "code", "toy_code", "classify"]


def make_task(params: "Params") -> Task:
    """The task named by `params.task`, configured by its own section when the stage reads it."""
    if params.task == "toy":
        from lbt.tasks.toy import ToyTask

        return ToyTask(params.toy if params.has("toy") else None)
    if params.task == "math":
        from lbt.tasks.math import MathTask

        return MathTask(params.math)
    if params.task == "code":
        from lbt.tasks.code import CodeTask

        return CodeTask(params.code)
    if params.task == "toy_code":
        from lbt.tasks.toy_code import ToyCodeTask

        return ToyCodeTask(params.toy_code, params.toy.world if params.has("toy") else None)
    if params.task == "classify":
        from lbt.tasks.classify import ClassifyTask

        return ClassifyTask(params.classify)
    raise ValueError(f"Unknown task {params.task!r}.")
