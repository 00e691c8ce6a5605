"""Time the toy models' training as the train_toy stage runs it, with a profile of where it goes.

    python scripts/bench_toy_training.py                      # both models at once, 1 thread each (the stage)
    python scripts/bench_toy_training.py --sequential         # one after the other, 2 threads each
    python scripts/bench_toy_training.py --set steps=300 --set n_embd=96   # other toy.train values

Prints per model: optimizer steps run (training stops once the probe passes), seconds, the
probe's history, and the share of time in each phase (building batches, forward, backward with
gradient clipping, optimizer update, probes). Uses params.yaml's toy section (world, personas,
training). Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

from lbt.config import load_params
from lbt.toy.curriculum import ROLES, student_personas
from lbt.toy.train import PHASES, train_toy_model
from lbt.toy.world import ToyWorld


def _train(role: str, toy, out: Path, threads: int) -> dict:
    return train_toy_model(role, ToyWorld(toy.world), toy.train, out / role, seed=0,
                           personas=student_personas(toy.student), threads=threads)


def run(toy, sequential: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if sequential:
            reports = [_train(role, toy, Path(tmp), 2) for role in ROLES]
        else:
            with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
                reports = list(pool.map(_train, ROLES, [toy] * 2, [Path(tmp)] * 2, [1] * 2))
        wall = time.perf_counter() - start
    print(f"{'sequential, 2 threads' if sequential else 'parallel, 1 thread each'}: {wall:.1f} s wall")
    for r in reports:
        spent = r["phase_seconds"]
        total = sum(spent.values())
        shares = ", ".join(f"{phase} {100 * spent[phase] / total:.0f}%" for phase in PHASES)
        print(f"  {r['role']}: {r['steps']} steps in {r['seconds']:.1f} s ({1000 * r['seconds'] / r['steps']:.0f} ms/step), "
              f"final probe {r['final_probe']:.3f}, final loss {r['final_loss']:.4f}")
        print(f"    time: {shares}")
        print(f"    probes: {' '.join(f'{s}:{a:.2f}' for s, a in r['probes'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", action="store_true", help="one model after the other, 2 threads each")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a toy.train value")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    toy = load_params(args.params, reads=["toy"]).toy
    changes = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    toy = toy.model_copy(update={"train": toy.train.model_validate(toy.train.model_dump() | changes)})
    run(toy, args.sequential)


if __name__ == "__main__":
    main()
