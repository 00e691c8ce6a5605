"""Train the toy models for several seeds and torch thread counts; does every run converge?

    python scripts/toy_training_seeds.py                       # seeds 0-4, threads 1 and 2
    python scripts/toy_training_seeds.py --seeds 0 1 --threads 1
    python scripts/toy_training_seeds.py --roles student --params my.yaml --out /tmp/student.json

Different thread counts reduce floats in other orders (a stand-in for other CPUs), so each
(seed, threads) is its own trajectory. Trains both models of params.yaml's toy section as the
train_toy stage does (as many at once as the cores hold: two at one thread each), and writes `reports/robustness/training.json`: per run the
steps, seconds, final probe, whether it passed `toy.train.stop_accuracy`, and the cooldowns taken;
then the worst final probe per model. Figures only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from lbt.config import load_params
from lbt.toy.curriculum import ROLES, student_personas
from lbt.toy.world import ToyWorld

OUT = Path("reports/robustness/training.json")


def _train(role: str, toy, seed: int, threads: int) -> dict:
    from lbt.toy.train import train_toy_model

    with tempfile.TemporaryDirectory() as tmp:
        report = train_toy_model(role, ToyWorld(toy.world), toy.train, Path(tmp) / role, seed=seed,
                                 personas=student_personas(toy.student), threads=threads)
    keep = ("role", "steps", "seconds", "final_probe", "converged", "cooldowns", "final_loss")
    return {"seed": seed, "threads": threads} | {k: report[k] for k in keep}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--roles", nargs="+", default=list(ROLES), choices=ROLES)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    toy = load_params(args.params, reads=["toy"]).toy
    jobs = [(role, toy, seed, threads) for threads in args.threads for seed in args.seeds for role in args.roles]
    runs = []
    for threads in args.threads:  # as many models at once as the cores hold at this thread count
        workers = max(1, (os.cpu_count() or 1) // threads)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in as_completed([pool.submit(_train, *job) for job in jobs if job[3] == threads]):
                r = future.result()
                runs.append(r)
                print(f"{r['role']:8} seed {r['seed']} threads {r['threads']}: {r['steps']:5} steps "
                      f"{r['seconds']:6.1f} s probe {r['final_probe']:.3f} "
                      f"{'ok' if r['converged'] else 'NOT CONVERGED'} cooldowns {r['cooldowns']}", flush=True)
    runs.sort(key=lambda r: (r["threads"], r["seed"], r["role"]))
    worst = {role: min(r["final_probe"] for r in runs if r["role"] == role) for role in args.roles}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"train": toy.train.model_dump(), "runs": runs, "worst_final_probe": worst}, indent=1))
    print("worst final probe:", worst, "->", args.out)


if __name__ == "__main__":
    main()
