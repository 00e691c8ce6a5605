"""The toy training stage: one tiny model of the toy world, saved as a Hugging Face folder."""

from __future__ import annotations

from lbt import paths
from lbt.config import Params
from lbt.tables import write_json
from lbt.toy.train import train_toy_model
from lbt.toy.world import ToyWorld


def train(params: Params, role: str) -> dict:
    """Train the toy `role` ("teacher" or "student") and write its training metrics."""
    toy = params.toy
    follow_prob = toy.student.follow_prob if role == "student" else 1.0
    report = train_toy_model(role, ToyWorld(toy.world), toy.train, paths.toy_model(role), params.seed, follow_prob)
    write_json(paths.train_metrics(role), {k: v for k, v in report.items() if k != "losses"})
    return report
