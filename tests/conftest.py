"""Shared fixtures: a real tiny toy model trained in the test session (seconds, CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbt.toy.config import ToyTrainConfig, ToyWorldConfig
from lbt.toy.train import train_toy_model
from lbt.toy.world import ToyWorld

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"

# Small enough to train in a few seconds; the tests that use it check mechanics, not skill.
TINY_TRAIN = ToyTrainConfig(n_layer=1, n_embd=32, n_head=2, steps=30, batch_size=16, warmup_steps=5, probe_size=32)


@pytest.fixture(scope="session")
def toy_world() -> ToyWorld:
    return ToyWorld(ToyWorldConfig(n_verbs=6))


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory, toy_world) -> Path:
    out = tmp_path_factory.mktemp("models") / "student"
    train_toy_model("student", toy_world, TINY_TRAIN, out, seed=0)
    return out


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory, toy_world) -> Path:
    out = tmp_path_factory.mktemp("models") / "teacher"
    train_toy_model("teacher", toy_world, TINY_TRAIN, out, seed=0)
    return out
