"""Train a tiny GPT-2 from scratch on the toy curriculum and save it as a Hugging Face folder.

Training stops once the skills are learned: every `probe_every` steps a held-out probe (prompts
of every batch kind, drawn from their own seed) checks that greedy decoding would reproduce the
expected rationale (every word but the operations that are random draws: the teacher's flawed
belief, a persona's coin flip); once `stop_accuracy` of the probe passes, the learning rate
cools down linearly to zero over `cooldown_steps` (the decay is where most of the remaining
errors go) and training ends. The schedule is warmup, constant, cooldown (the cooldown starts at
the latest `cooldown_steps` before `steps`); the report carries the final probe accuracy.
Deterministic from the seed (one thread; the probe and the batches come from seeded streams).
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Callable, Sequence

import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from tqdm import tqdm
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from lbt.toy.config import ToyTrainConfig
from lbt.toy.curriculum import Example, Persona, training_batch
from lbt.toy.world import OP_OFFSET, OPERATIONS, STEP_WORDS, ToyWorld

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
        targets.append(in_rationale and word not in OPERATIONS)
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

    def __init__(self, role: str, world: ToyWorld, cfg: ToyTrainConfig, personas: Sequence[Persona],
                 vocab: dict[str, int], eos: int, pad: int, seed: int, batches: Batches | None = None):
        rng = random.Random(f"probe-{role}-{seed}")
        size = min(cfg.batch_size, cfg.probe_size)
        draw = batches or (lambda rng, size: training_batch(role, world, rng, size, cfg, personas))
        self.batches = [encode(draw(rng, size), vocab, eos, pad)
                        for _ in range(max(1, cfg.probe_size // size))]

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
    model = new_model(len(vocab), cfg, eos, pad)
    probe = Probe(role, world, cfg, personas, vocab, eos, pad, seed, batches)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    phases, losses, probes = dict.fromkeys(PHASES, 0.0), [], []
    cooldown_from, start = max(cfg.warmup_steps, cfg.steps - cfg.cooldown_steps), time.perf_counter()
    model.train()
    bar = tqdm(total=cfg.steps, desc=f"train toy {role}", mininterval=10)
    step = 0
    while step < min(cfg.steps, cooldown_from + cfg.cooldown_steps):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(step, cfg, cooldown_from)
        t0 = time.perf_counter()
        examples = (batches(rng, cfg.batch_size) if batches is not None
                    else training_batch(role, world, rng, cfg.batch_size, cfg, personas))
        ids, labels, _ = encode(examples, vocab, eos, pad, cfg.demo_labels)
        t1 = time.perf_counter()
        loss = model(input_ids=ids, labels=labels).loss
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        for phase, seconds in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            phases[phase] += seconds
        losses.append(loss.item())
        step += 1
        bar.update()
        if step % cfg.probe_every == 0 and step < cooldown_from:
            t5 = time.perf_counter()
            probes.append((step, probe.accuracy(model)))
            phases["probe"] += time.perf_counter() - t5
            if cfg.stop_accuracy is not None and probes[-1][1] >= cfg.stop_accuracy:
                cooldown_from = step
    bar.close()
    final_probe = probe.accuracy(model)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    seconds = time.perf_counter() - start
    log.info("trained toy %s: %d params, %d steps, probe %.3f, %.0f s", role, model.num_parameters(), step,
             final_probe, seconds)
    return {
        "role": role, "params": model.num_parameters(), "steps": step, "seconds": round(seconds, 1),
        "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4), "final_probe": round(final_probe, 4),
        "probes": probes, "phase_seconds": {k: round(v, 2) for k, v in phases.items()}, "losses": losses,
    }


def lr_factor(step: int, cfg: ToyTrainConfig, cooldown_from: int) -> float:
    """Linear warmup, constant, then a linear cooldown to zero from `cooldown_from`."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if step < cooldown_from:
        return 1.0
    return max(0.0, 1 - (step - cooldown_from) / max(1, cfg.cooldown_steps))
