"""Tasks by name: each knows its problems, prompts and grading."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lbt.tasks.base import Demo, Task

if TYPE_CHECKING:
    from lbt.config import Params


def make_task(params: "Params") -> Task:
    if params.task == "toy":
        from lbt.tasks.toy import ToyTask

        return ToyTask(params.toy.world)
    if params.task == "math":
        from lbt.tasks.math import MathTask

        return MathTask(params.math.raw_dir, params.math.prompt, params.math.grouping)
    raise ValueError(f"Unknown task {params.task!r}.")


__all__ = ["Demo", "Task", "make_task"]
