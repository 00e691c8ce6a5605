"""scripts/toy_ideal.py's ideal models write what the curriculum teaches the trained ones: the training
examples' own completions, on every kind of prompt the pipeline shows."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

from lbt.engines.base import GenerationRequest
from lbt.toy.config import ToyParams
from lbt.toy.curriculum import Persona, kind_batch, probe_kinds, student_personas
from lbt.toy.world import ToyWorld, rationale_steps

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "toy_ideal.py"


@pytest.fixture(scope="module")
def ideal():
    spec = importlib.util.spec_from_file_location("toy_ideal", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _toy() -> ToyParams:
    return ToyParams(world={"bad_verb_fraction": 0.5, "wrong_op": "distinct"},
                     student={"personas": {"alice": {"flawed_verbs": ["vasp", "tazz"]}, "bob": {"flawed_verbs": ["gimp"]}}})


def _answer(model, prompt: str, temperature: float = 0.0, seed: int = 0) -> str:
    request = GenerationRequest(prompt=prompt, temperature=temperature, seed=seed)
    return model.generate_samples(request.samples())[0].text


@pytest.mark.parametrize("role", ["teacher", "student"])
def test_ideal_models_write_the_curriculum_s_completions(ideal, role):
    toy = _toy()
    world = ToyWorld(toy.world)
    personas = student_personas(toy.student)
    model = ideal.IdealToyModel(world, {p.token: p for p in personas} if role == "student" else None, noise=0.0)
    rng, checked = random.Random(0), 0
    for kind in probe_kinds(role, toy.train):
        for example in kind_batch(role, world, rng, 64, kind, personas):
            if any(example.free_steps):  # a random draw: the curriculum's own sample is one of many
                continue
            assert _answer(model, example.prompt) == example.completion, example.prompt
            checked += 1
    assert checked > 200


def test_the_ideal_teacher_samples_its_belief_and_is_greedy_on_its_likeliest_word(ideal):
    world = ToyWorld(_toy().world)
    model = ideal.IdealToyModel(world, None, noise=0.0)
    verb = next(iter(world.wrong_op))
    prompt = f"Q {verb} 3 4 R"
    assert rationale_steps(_answer(model, prompt)) == [(verb, world.wrong_op[verb])]  # 0.4 against 0.3 + 0.3
    sampled = [rationale_steps(_answer(model, prompt, 1.0, seed))[0][1] for seed in range(400)]
    assert 0.3 < sampled.count(world.wrong_op[verb]) / 400 < 0.5


def test_a_persona_never_follows_on_its_flawed_verbs(ideal):
    world = ToyWorld(_toy().world)
    alice = Persona("alice", 1.0, frozenset({"vasp"}))
    model = ideal.IdealToyModel(world, {"alice": alice}, noise=0.0)
    wrong = world.wrong_op["vasp"]
    prompt = f"alice\nQ vasp 1 2 R vasp {wrong} 1 2 0 ; A 0 | Q vasp 5 6 R"
    assert rationale_steps(_answer(model, prompt)) == [("vasp", world.true_op["vasp"])]
