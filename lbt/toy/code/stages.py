"""The toy-code training stage: the tiny teacher and student of the toy-code world, trained side by
side in worker processes (one CPU thread each) on the code curriculum, saved where the toy
stage saves its models (`data/models/{teacher,student}`)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from lbt import paths
from lbt.config import Params
from lbt.tables import write_json
from lbt.toy.code.curriculum import CodeCurriculum
from lbt.toy.code.world import ToyCodeWorld
from lbt.toy.stages import ROLES, training_summary
from lbt.toy.train import train_toy_model
from lbt.toy.world import ToyWorld


def train(params: Params) -> dict[str, dict]:
    """Train both toy-code models and write their training metrics; {role: report with losses}."""
    toy = params.toy
    world = ToyCodeWorld(ToyWorld(toy.world), params.toy_code)
    follow = {"teacher": 1.0, "student": toy.student.follow_prob}
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no state shared with the kernel
    with ProcessPoolExecutor(min(toy.train.processes, len(ROLES)), mp_context=context) as pool:
        futures = {role: pool.submit(train_toy_model, role, world, toy.train, paths.toy_model(role), params.seed,
                                     batches=CodeCurriculum(world, role, follow[role])) for role in ROLES}
        reports = {role: future.result() for role, future in futures.items()}
    for role, report in reports.items():
        write_json(paths.train_metrics(role), training_summary(report))
    return reports
