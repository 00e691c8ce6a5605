"""The task a stage runs, made from its registration (`lbt.tasks.registry.TASKS`)."""

from __future__ import annotations

import importlib

from lbt.config import Params
from lbt.tasks.base import Task
from lbt.tasks.registry import TASKS


def make_task(params: Params) -> Task:
    """The task named by `params.task`, configured by the sections of it that the stage reads
    (its module is imported only now)."""
    module, name = TASKS[params.task].task.split(":")
    task: Task = getattr(importlib.import_module(module), name).from_params(params)
    return task
