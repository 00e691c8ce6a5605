"""M3's stage: every student setting side by side; it runs the teacher and each setting's models."""

from __future__ import annotations

from lbt import paths
from lbt.config import Params
from lbt.dag import Stage
from lbt.methods.m3.config import model_configs
from lbt.tasks.registry import TASKS


def stages(params: Params) -> list[Stage]:
    if not params.has("m3"):
        return []
    tables = [str(paths.m3_table(t)) for t in paths.M3_TABLES]
    return [Stage("m3", "m3/m3", ["task", *TASKS[params.task].answers, "seed", "cache_path", "teachers", "students",
                                  "m3"],
                  deps=[str(paths.PROBLEMS)], outs=tables, metrics=[str(paths.M3_METRICS)],
                  plots=[str(paths.figure(paths.M3_FIGURE))], models=list(model_configs(params).values()),
                  reported=[*tables, str(paths.M3_METRICS)])]
