"""Time the toy models' training the way the train_toy stage runs it, or the old way.

    python scripts/bench_toy_training.py --mode parallel   --steps 100   # both models at once, 1 thread each
    python scripts/bench_toy_training.py --mode sequential --steps 100   # one after the other, 2 threads each
    python scripts/bench_toy_training.py --profile --steps 40            # where one step's time goes

Prints seconds (and, with --profile, milliseconds per step in curriculum, batching and the
model's forward/backward/update). Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from lbt.toy.config import ToyTrainConfig, ToyWorldConfig
from lbt.toy.curriculum import training_batch
from lbt.toy.train import _batch, build_tokenizer, train_toy_model
from lbt.toy.world import ToyWorld

ROLES = ("teacher", "student")


def _train(role: str, steps: int, out: Path, threads: int) -> float:
    start = time.perf_counter()
    train_toy_model(role, ToyWorld(ToyWorldConfig()), ToyTrainConfig(steps=steps), out / role, seed=0, threads=threads)
    return time.perf_counter() - start


def run(mode: str, steps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if mode == "parallel":
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(2, mp_context=context) as pool:
                seconds = list(pool.map(_train, ROLES, [steps] * 2, [Path(tmp)] * 2, [1] * 2))
        else:
            seconds = [_train(role, steps, Path(tmp), 2) for role in ROLES]
        print(f"{mode}: {time.perf_counter() - start:.1f} s wall; per model {dict(zip(ROLES, map(round, seconds)))}")


def profile(steps: int) -> None:
    torch.set_num_threads(1)
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg, world = ToyTrainConfig(), ToyWorld(ToyWorldConfig())
    tokenizer = build_tokenizer(world.vocabulary)
    vocab = tokenizer.get_vocab()
    for role in ROLES:
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(vocab), n_positions=160, n_embd=cfg.n_embd,
                                           n_layer=cfg.n_layer, n_head=cfg.n_head, activation_function="gelu"))
        opt, rng, spent = torch.optim.AdamW(model.parameters()), random.Random(0), [0.0, 0.0, 0.0]
        for _ in range(steps):
            t0 = time.perf_counter()
            pairs = training_batch(role, world, rng, cfg.batch_size, cfg.teacher_fewshot_prob, 1.0)
            t1 = time.perf_counter()
            ids, labels, mask = _batch(pairs, vocab, tokenizer.eos_token_id, tokenizer.pad_token_id)
            t2 = time.perf_counter()
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            t3 = time.perf_counter()
            for i, dt in enumerate((t1 - t0, t2 - t1, t3 - t2)):
                spent[i] += dt
        per = [f"{1000 * s / steps:.1f}" for s in spent]
        print(f"{role}: ms per step: curriculum {per[0]}, batching {per[1]}, model {per[2]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["parallel", "sequential"], default="parallel")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    profile(args.steps) if args.profile else run(args.mode, args.steps)


if __name__ == "__main__":
    main()
