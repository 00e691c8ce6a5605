"""Train a tiny GPT-2 from scratch on the toy curriculum and save it as a Hugging Face folder.

Training stops once the skills are learned: every `probe_every` steps a held-out probe (an equal
share of every kind of prompt the pipeline uses, in its layouts: chains of the world's length;
drawn from their own seed) checks that greedy decoding would reproduce the
expected rationale (every word but the operations that are random draws: the teacher's flawed
belief, a persona's coin flip). Once `stop_patience` probes in a row reach `stop_accuracy`, the
learning rate cools down linearly to zero over `cooldown_steps`, and the probe is taken again:
training ends if it still passes and otherwise goes on (`StopRule`). The report carries the final
probe accuracy and whether it passed (`converged`). Deterministic from the seed and the thread
count (the probe and the batches come from seeded streams).
"""

from __future__ import annotations

import logging
import random
import time
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from tqdm import tqdm
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from lbt.toy.config import ToyTrainConfig
from lbt.toy.curriculum import Example, Persona, kind_batch, probe_kinds, training_batch
from lbt.toy.world import MEANING, OP_OFFSET, STEP_WORDS, ToyWorld

log = logging.getLogger(__name__)
PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
PHASES = ("batches", "forward", "backward", "optimizer", "probe")
Batches = Callable[[random.Random, int], list[Example]]  # (rng, size) -> one training batch


def build_tokenizer(vocabulary: list[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over the world's words (split on whitespace)."""
    vocab = {tok: i for i, tok in enumerate([PAD, EOS, UNK, *vocabulary])}
    core = Tokenizer(WordLevel(vocab, unk_token=UNK))
    core.pre_tokenizer = WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, eos_token=EOS, unk_token=UNK, padding_side="left"
    )


def new_model(vocab_size: int, cfg: ToyTrainConfig, eos: int, pad: int) -> GPT2LMHeadModel:
    return GPT2LMHeadModel(GPT2Config(
        vocab_size=vocab_size, n_positions=cfg.n_positions, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
        n_head=cfg.n_head, bos_token_id=eos, eos_token_id=eos, pad_token_id=pad, resid_pdrop=0.0,
        embd_pdrop=0.0, attn_pdrop=0.0,
        activation_function="gelu",  # the exact GELU is one fused op; GPT-2's tanh form is five
    ))


def checked_positions(completion_words: int, free_steps: Sequence[bool]) -> list[bool]:
    """Which words of a completion (and its EOS) the probe checks: all but random operations."""
    checked = [True] * (completion_words + 1)
    for step, free in enumerate(free_steps):
        if free:
            checked[step * STEP_WORDS + OP_OFFSET] = False
    return checked


def demo_targets(prompt_words: Sequence[str]) -> list[bool]:
    """Which words of a prompt are also trained on: the examples' rationales except their
    operations (the arithmetic and the copying are the same skills as in the completion; the
    operations an example shows are arbitrary and must not shape the model's beliefs)."""
    targets, in_rationale = [], False
    for i, word in enumerate(prompt_words):
        targets.append(in_rationale and word not in MEANING and word != "|")
        in_rationale = (in_rationale or word == "R") and word != "|"
    return targets


def encode(examples: Sequence[Example], vocab: dict[str, int], eos: int, pad: int, demo_labels: bool = False):
    """(ids, labels, checked): right-padded ids; labels on the completion and its EOS (and, with
    `demo_labels`, on the examples' rationales but their operations); `checked` marks the
    completion positions the probe compares."""
    rows = []
    for ex in examples:
        words = ex.prompt.split()
        p = [vocab[w] for w in words]
        c = [vocab[w] for w in ex.completion.split()] + [eos]
        rows.append((p, c, checked_positions(len(c) - 1, ex.free_steps), demo_targets(words) if demo_labels else []))
    width = max(len(p) + len(c) for p, c, _, _ in rows)
    ids, labels, checked = [], [], []
    for p, c, ok, in_prompt in rows:  # whole rows as lists, one tensor each at the end: per-element writes are slow
        pad_n = width - len(p) - len(c)
        prompt_labels = [w if target else -100 for w, target in zip(p, in_prompt)] if in_prompt else [-100] * len(p)
        ids.append(p + c + [pad] * pad_n)
        labels.append(prompt_labels + c + [-100] * pad_n)
        checked.append([False] * len(p) + ok + [False] * pad_n)
    return torch.tensor(ids), torch.tensor(labels), torch.tensor(checked, dtype=torch.bool)


class Probe:
    """Held-out batches of every kind; `accuracy` is the share of rows whose checked words are all
    the model's greedy choice (with teacher forcing: exactly when greedy decoding reproduces them)."""

    def __init__(self, role: str, cfg: ToyTrainConfig, vocab: dict[str, int], eos: int, pad: int, seed: int,
                 draws: Sequence[Batches]):
        """One batch from each of `draws` (`probe_size` rows in all), from the probe's own seed."""
        rng = random.Random(f"probe-{role}-{seed}")
        size = max(1, cfg.probe_size // len(draws))
        self.batches = [encode(draw(rng, size), vocab, eos, pad) for draw in draws]

    @torch.no_grad()
    def accuracy(self, model: GPT2LMHeadModel) -> float:
        was_training, passed, total = model.training, 0, 0
        model.eval()
        for ids, labels, checked in self.batches:
            logits = model(input_ids=ids).logits[:, :-1]
            right = (logits.argmax(-1) == labels[:, 1:]) | ~checked[:, 1:]
            passed += int(right.all(-1).sum())
            total += ids.shape[0]
        model.train(was_training)
        return passed / total


class StopRule:
    """When the final cooldown starts and whether training ends after it, from the probe's results.

    The cooldown starts once `stop_patience` probes in a row reach `stop_accuracy` (one lucky probe
    never does), or at the latest `cooldown_steps` before `steps`. After the cooldown the probe is
    taken again: training ends when it still passes, and otherwise goes on at the full learning rate
    (after a new warmup) until the rule passes again, while `steps` leave room for another cooldown.
    With `stop_accuracy: null` training runs all `steps`, the cooldown last."""

    def __init__(self, cfg: ToyTrainConfig):
        self.cfg, self.passes, self.resumed_at, self.converged = cfg, 0, 0, False
        self.cooldown_from = self._latest_cooldown()

    def _latest_cooldown(self) -> int:
        return max(self.resumed_at + self.cfg.warmup_steps, self.cfg.steps - self.cfg.cooldown_steps)

    def lr_factor(self, step: int) -> float:
        """Linear warmup (again after a resume), constant, then a linear cooldown to zero."""
        warm = step - self.resumed_at
        if warm < self.cfg.warmup_steps:
            return (warm + 1) / self.cfg.warmup_steps
        if step < self.cooldown_from:
            return 1.0
        return max(0.0, 1 - (step - self.cooldown_from) / max(1, self.cfg.cooldown_steps))

    def probes_at(self, step: int) -> bool:
        """A probe after this many steps: every `probe_every` before the cooldown."""
        return step % self.cfg.probe_every == 0 and step < self.cooldown_from

    def after_probe(self, step: int, accuracy: float) -> None:
        threshold = self.cfg.stop_accuracy
        self.passes = self.passes + 1 if threshold is not None and accuracy >= threshold else 0
        if self.passes >= self.cfg.stop_patience:
            self.cooldown_from = step

    def cooldown_ended(self, step: int) -> bool:
        return step >= self.cooldown_from + self.cfg.cooldown_steps

    def finished(self, step: int, accuracy: float) -> bool:
        """After a cooldown: True to stop (the probe still passes, or no room is left), or resume."""
        threshold = self.cfg.stop_accuracy
        self.converged = threshold is None or accuracy >= threshold
        room = step + self.cfg.warmup_steps + self.cfg.cooldown_steps <= self.cfg.steps
        if self.converged or not room:
            return True
        self.passes, self.resumed_at = 0, step
        self.cooldown_from = self._latest_cooldown()
        return False


def train_toy_model(role: str, world: ToyWorld, cfg: ToyTrainConfig, out_dir: Path, seed: int,
                    personas: Sequence[Persona] = (Persona(None, 1.0),), threads: int = 1,
                    batches: Batches | None = None) -> dict:
    """Train the `role` ("teacher" or "student") model and save model + tokenizer to `out_dir`.
    The student plays `personas` (each row one, drawn uniformly); both models' vocabularies hold
    the persona tokens. `batches(rng, size)` replaces the toy curriculum (the toy-code world
    passes its own; `world` then only needs a `vocabulary`). One CPU thread by default: a model
    this small gains little from more, and one thread never busy-waits on a loaded machine.
    Returns the training report (per-step losses, probe history, seconds per phase)."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = random.Random(f"curriculum-{role}-{seed}")
    tokenizer = build_tokenizer(world.vocabulary([p.token for p in personas if p.token]))
    vocab, eos, pad = tokenizer.get_vocab(), tokenizer.eos_token_id, tokenizer.pad_token_id
    draw = batches or (lambda rng, size: training_batch(role, world, rng, size, cfg, personas))
    model = new_model(len(vocab), cfg, eos, pad)
    probe = Probe(role, cfg, vocab, eos, pad, seed, _probe_draws(role, world, cfg, personas, batches))
    start = time.perf_counter()
    run = _TrainingRun(model, cfg, lambda: encode(draw(rng, cfg.batch_size), vocab, eos, pad, cfg.demo_labels))
    run.train(probe, desc=f"train toy {role}")
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    seconds = time.perf_counter() - start
    log.info("trained toy %s: %d params, %d steps, probe %.3f, %.0f s", role, model.num_parameters(), run.step,
             run.final_probe, seconds)
    if not run.rule.converged:
        log.warning("toy %s: the probe ended at %.3f, below toy.train.stop_accuracy %s, after %d steps: "
                    "raise toy.train.steps", role, run.final_probe, cfg.stop_accuracy, run.step)
    return {
        "role": role, "params": model.num_parameters(), "steps": run.step, "seconds": round(seconds, 1),
        "final_loss": round(sum(run.losses[-20:]) / len(run.losses[-20:]), 4),
        "final_probe": round(run.final_probe, 4), "converged": run.rule.converged, "cooldowns": run.cooldowns,
        "probes": run.probes, "phase_seconds": {k: round(v, 2) for k, v in run.phases.items()}, "losses": run.losses,
    }


def _probe_draws(role: str, world: ToyWorld, cfg: ToyTrainConfig, personas: Sequence[Persona],
                 batches: Batches | None) -> list[Batches]:
    """What the probe asks: every kind of prompt the pipeline uses, an equal share each, in its layouts
    (chains of the world's own length, whatever training varies); or batches from `batches`."""
    if batches is not None:
        return [batches] * max(1, cfg.probe_size // min(cfg.batch_size, cfg.probe_size))
    return [partial(kind_batch, role, world, kind=kind, personas=personas) for kind in probe_kinds(role, cfg)]


class _TrainingRun:
    """The optimisation loop of one model, timed by phase, steered by its `StopRule`."""

    def __init__(self, model: GPT2LMHeadModel, cfg: ToyTrainConfig, next_batch: Callable):
        self.model, self.cfg, self.next_batch = model, cfg, next_batch
        self.opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
        self.rule, self.step, self.cooldowns, self.final_probe = StopRule(cfg), 0, [], 0.0
        self.phases, self.losses, self.probes = dict.fromkeys(PHASES, 0.0), [], []

    def train(self, probe: Probe, desc: str) -> None:
        self.model.train()
        bar = tqdm(total=self.cfg.steps, desc=desc, mininterval=10)
        while self.step < self.cfg.steps:
            self._step()
            bar.update()
            if self.rule.probes_at(self.step):
                self.rule.after_probe(self.step, self._probe(probe))
            elif self.rule.cooldown_ended(self.step):
                self.final_probe = self._probe(probe, after_cooldown=True)
                if self.rule.finished(self.step, self.final_probe):
                    break
        else:  # `steps` ran out before a cooldown ended (fewer steps than warmup + cooldown)
            self.final_probe = self._probe(probe, after_cooldown=True)
            self.rule.finished(self.step, self.final_probe)
        bar.close()

    def _probe(self, probe: Probe, after_cooldown: bool = False) -> float:
        t0 = time.perf_counter()
        accuracy = probe.accuracy(self.model)
        self.phases["probe"] += time.perf_counter() - t0
        (self.cooldowns if after_cooldown else self.probes).append((self.step, accuracy))
        return accuracy

    def _step(self) -> None:
        for group in self.opt.param_groups:
            group["lr"] = self.cfg.lr * self.rule.lr_factor(self.step)
        t0 = time.perf_counter()
        ids, labels, _ = self.next_batch()
        t1 = time.perf_counter()
        loss = self.model(input_ids=ids, labels=labels).loss
        t2 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        t3 = time.perf_counter()
        self.opt.step()
        t4 = time.perf_counter()
        for phase, seconds in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            self.phases[phase] += seconds
        self.losses.append(loss.item())
        self.step += 1
