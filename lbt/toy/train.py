"""Train a tiny GPT-2 from scratch on the toy curriculum and save it as a Hugging Face folder."""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path
from typing import Callable

import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from tqdm import tqdm
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from lbt.toy.config import ToyTrainConfig
from lbt.toy.curriculum import training_batch
from lbt.toy.world import ToyWorld

log = logging.getLogger(__name__)
PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"


def build_tokenizer(vocabulary: list[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over the world's words (split on whitespace)."""
    vocab = {tok: i for i, tok in enumerate([PAD, EOS, UNK, *vocabulary])}
    core = Tokenizer(WordLevel(vocab, unk_token=UNK))
    core.pre_tokenizer = WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, eos_token=EOS, unk_token=UNK, padding_side="left"
    )


def _batch(pairs: list[tuple[str, str]], vocab: dict[str, int], eos: int, pad: int):
    """Right-padded ids with labels only on the completion (and its EOS)."""
    rows = []
    for prompt, completion in pairs:
        p = [vocab[w] for w in prompt.split()]
        c = [vocab[w] for w in completion.split()] + [eos]
        rows.append((p + c, [-100] * len(p) + c))
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad)
    labels = torch.full((len(rows), width), -100)
    for i, (x, y) in enumerate(rows):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
    return ids, labels, (ids != pad).long()


def train_toy_model(role: str, world: ToyWorld, cfg: ToyTrainConfig, out_dir: Path, seed: int,
                    follow_prob: float = 1.0, threads: int = 1,
                    batches: Callable[[random.Random, int], list[tuple[str, str]]] | None = None) -> dict:
    """Train the `role` ("teacher" or "student") model and save model + tokenizer to `out_dir`;
    `follow_prob` is how often the student follows its example. One CPU thread by default: a
    model this small gains little from more, and one thread never busy-waits on a loaded machine.
    `batches(rng, size)` replaces the toy curriculum (the toy-code world passes its own; `world`
    then only needs a `vocabulary`)."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = random.Random(f"curriculum-{role}-{seed}")
    tokenizer = build_tokenizer(world.vocabulary)
    vocab = tokenizer.get_vocab()
    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=len(vocab), n_positions=160, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
            n_head=cfg.n_head, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
            activation_function="gelu",  # the exact GELU is one fused op; GPT-2's tanh form is five
        )
    )
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, cfg))
    losses, start = [], time.perf_counter()
    model.train()
    for _ in tqdm(range(cfg.steps), desc=f"train toy {role}", mininterval=10):
        pairs = (batches(rng, cfg.batch_size) if batches is not None
                 else training_batch(role, world, rng, cfg.batch_size, cfg.teacher_fewshot_prob, follow_prob))
        ids, labels, mask = _batch(pairs, vocab, tokenizer.eos_token_id, tokenizer.pad_token_id)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    seconds = time.perf_counter() - start
    log.info("trained toy %s: %d params, final loss %.4f, %.0f s", role, model.num_parameters(), losses[-1], seconds)
    return {
        "role": role, "params": model.num_parameters(), "seconds": round(seconds, 1),
        "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4), "losses": losses,
    }


def _lr_factor(step: int, cfg: ToyTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
