"""Run the default pipeline for several seeds (and the control) and check every claim it makes.

    python scripts/robustness.py                        # seeds 0-4 and the control for seeds 0-4
    python scripts/robustness.py --seeds 0 1 --control-seeds   # two seeds, no control
    python scripts/robustness.py --summarise            # only rebuild the table from the runs kept
    python scripts/robustness.py --update               # after a change: rerun only the stages it touches

Each run is `dvc repro` of a copy of this project (uncommitted changes included) with `seed` set,
in `--workdir`, one after the other (each trains its two models at once); the control sets
`toy.student.follow_prob: 0` and runs M1 only. Writes `reports/robustness/runs/<run>.json` (the
run's metrics and M1's resampling curve), `claims.json`, `claims.md` and `claims.png` (each claim
per seed, mean ± std, the worst seed, the threshold), and the README's block between its
`robustness` markers. A default run takes about 11 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml
from tqdm import tqdm

from lbt.robustness import (BLOCK_END, BLOCK_START, CONTROL, CONTROL_TARGET, OUT, RUNS, TRAINING_SWEEP, load_runs,
                            readme_block, run_seed, summary, write_figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--control-seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lbt-robustness"))
    parser.add_argument("--summarise", action="store_true", help="only rebuild the table from reports/robustness/runs")
    parser.add_argument("--update", action="store_true",
                        help="reuse the run folders in --workdir: rerun only the stages a change touches")
    args = parser.parse_args()
    if not args.summarise:
        jobs = [(f"seed-{s}", {"seed": s}, []) for s in args.seeds]
        jobs += [(f"control-{s}", {"seed": s, **CONTROL}, [CONTROL_TARGET]) for s in args.control_seeds]
        RUNS.mkdir(parents=True, exist_ok=True)
        for name, overrides, targets in tqdm(jobs, desc="robustness runs"):
            run = run_seed(name, overrides, targets, args.workdir, update=args.update)
            kept = RUNS / f"{name}.json"
            # the wall time of the run from scratch (an update's rerun is not a repro's time)
            if run["fresh"]:
                run["full_wall_s"] = run["wall_s"]
            else:
                old = json.loads(kept.read_text())
                run["full_wall_s"] = old.get("full_wall_s", old["wall_s"])
            (RUNS / f"{name}.json").write_text(json.dumps(run, indent=1))
            tqdm.write(f"{name}: {run['wall_s']:.0f} s")
    runs, control = load_runs()
    sweep = json.loads(TRAINING_SWEEP.read_text()) if TRAINING_SWEEP.exists() else None
    result = summary(runs, control, yaml.safe_load(Path("params.yaml").read_text()), sweep)
    (OUT / "claims.json").write_text(json.dumps(result, indent=1))
    block = readme_block(result)
    (OUT / "claims.md").write_text(block + "\n")
    write_figure(result, OUT / "claims.png")
    readme = Path("README.md").read_text()
    if BLOCK_START in readme:
        head, rest = readme.split(BLOCK_START, 1)
        Path("README.md").write_text(head + block + rest.split(BLOCK_END, 1)[1])
    print(block)


if __name__ == "__main__":
    main()
