"""The toy training stage: the tiny teacher and student, trained side by side in worker
processes (one CPU thread each) and saved as Hugging Face folders."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from lbt import paths
from lbt.config import Params
from lbt.tables import write_json
from lbt.toy.curriculum import ROLES, student_personas
from lbt.toy.world import ToyWorld


def train(params: Params) -> dict[str, dict]:
    """Train every toy model and write its training metrics; {role: report with losses and probes}."""
    toy = params.toy
    personas = student_personas(toy.student)
    jobs = {role: (role, ToyWorld(toy.world), toy.train, paths.toy_model(role), params.seed, personas)
            for role in ROLES}
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no state shared with the kernel
    with ProcessPoolExecutor(min(toy.train.processes, len(jobs)), mp_context=context) as pool:
        futures = {role: pool.submit(_train_in_worker, *job) for role, job in jobs.items()}
        reports = {role: future.result() for role, future in futures.items()}
    for role, report in reports.items():
        write_json(paths.train_metrics(role), training_summary(report))
    return reports


def _train_in_worker(*job) -> dict:
    """`train_toy_model` imported in the worker: the kernel never waits for torch to import."""
    from lbt.toy.train import train_toy_model

    return train_toy_model(*job)


def training_summary(report: dict) -> dict:
    """A training report without its per-step losses and probes, its seconds per phase flattened:
    what the metrics file and the notebook's table show."""
    summary = {k: v for k, v in report.items() if k not in ("losses", "probes", "phase_seconds", "cooldowns")}
    summary["cooldowns"] = len(report["cooldowns"])  # how many; the probe after each is in the report
    return summary | {f"{phase}_s": seconds for phase, seconds in report["phase_seconds"].items()}
