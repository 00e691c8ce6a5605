"""The toy training's stop rule: one lucky probe never starts the cooldown, the probe is taken again
after the cooldown, and training goes on when it has fallen. Checked on the rule alone and on a real
micro model trained with a scripted probe history."""

import itertools

import pytest

import lbt.toy.train as train
from lbt.toy.config import ToyTrainConfig, ToyWorldConfig
from lbt.toy.train import StopRule, train_toy_model
from lbt.toy.world import ToyWorld

RULE = ToyTrainConfig(steps=1000, warmup_steps=10, probe_every=50, cooldown_steps=100, stop_accuracy=0.9,
                      stop_patience=2)


def _run_rule(cfg: ToyTrainConfig, history: list[float]) -> tuple[StopRule, int, list[int]]:
    """Drive a rule with scripted probe results (the loop of `_TrainingRun` without a model)."""
    rule, results, cooldowns = StopRule(cfg), iter(history), []
    for step in range(1, cfg.steps + 1):
        if rule.probes_at(step):
            rule.after_probe(step, next(results))
        elif rule.cooldown_ended(step):
            cooldowns.append(step)
            if rule.finished(step, next(results)):
                return rule, step, cooldowns
    return rule, cfg.steps, cooldowns


def test_one_lucky_probe_does_not_start_the_cooldown():
    rule, step, cooldowns = _run_rule(RULE, [0.2, 0.95, 0.3, 0.92, 0.95, 0.96])
    # probes at 50..250: the first pass (100) is followed by a fall; two in a row only at 200, 250
    assert rule.cooldown_from == 250 and cooldowns == [350] and step == 350 and rule.converged


def test_training_goes_on_when_the_probe_falls_after_the_cooldown():
    history = [0.95, 0.96, 0.5, 0.2, 0.93, 0.94, 0.97]  # cooldown 100..200, falls, again from 350
    rule, step, cooldowns = _run_rule(RULE, history)
    assert cooldowns == [200, 450] and step == 450 and rule.converged
    assert rule.lr_factor(200) == pytest.approx(1 / RULE.warmup_steps)  # a new warmup after the resume


def test_no_room_for_another_cooldown_ends_unconverged():
    cfg = RULE.model_copy(update={"steps": 300})
    rule, step, cooldowns = _run_rule(cfg, [0.95, 0.95, 0.4])
    assert cooldowns == [200] and step == 200 and not rule.converged


def test_the_cooldown_is_forced_before_the_last_step():
    cfg = RULE.model_copy(update={"steps": 400})
    rule, step, cooldowns = _run_rule(cfg, [0.1] * 5 + [0.95])
    assert rule.cooldown_from == 300 and cooldowns == [400] and rule.converged


def test_a_real_micro_training_follows_the_rule(tmp_path, monkeypatch):
    """A tiny model trained for real; its probe answers from a script: a lucky pass, a sustained pass,
    a fall after the first cooldown, then passes again."""
    script = itertools.chain([0.1, 0.95, 0.2, 0.95, 0.95, 0.3, 0.95, 0.95, 0.96], itertools.repeat(0.0))
    monkeypatch.setattr(train.Probe, "accuracy", lambda self, model: next(script))
    cfg = ToyTrainConfig(n_layer=1, n_embd=16, n_head=2, steps=200, batch_size=8, warmup_steps=2, probe_every=10,
                         probe_size=8, cooldown_steps=20, stop_accuracy=0.9, stop_patience=2, max_demos=2)
    world = ToyWorld(ToyWorldConfig(n_verbs=4, n_steps=1))
    report = train_toy_model("teacher", world, cfg, tmp_path / "teacher", seed=0)
    # probes 10..50 (40, 50 pass: cooldown 50..70), final 0.3 → resume at 70; probes 80, 90 pass:
    # cooldown 90..110, final 0.96 → stop
    assert [s for s, _ in report["probes"]] == [10, 20, 30, 40, 50, 80, 90]
    assert report["cooldowns"] == [(70, 0.3), (110, 0.96)]
    assert report["steps"] == 110 and report["converged"] and report["final_probe"] == 0.96
    assert (tmp_path / "teacher" / "config.json").exists()
