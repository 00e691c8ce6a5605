"""Time the default pipeline as a new user runs it, and print its figures.

    python scripts/bench_pipeline.py             # dvc repro in a fresh temp copy of the repo
    python scripts/bench_pipeline.py --control   # then the control: a student that ignores its example

Prints the wall time of `dvc repro`, each stage's notebook time (papermill records it), the
selection accuracies and generation counts. Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_pipeline_e2e import copy_project, ran_stages, run  # noqa: E402


def stage_times(root: Path) -> dict[str, float]:
    times = {}
    for nb in sorted((root / "reports" / "notebooks").glob("*.ipynb")):
        meta = json.loads(nb.read_text()).get("metadata", {}).get("papermill", {})
        if meta.get("duration") is not None:
            times[nb.stem] = round(meta["duration"], 1)
    return times


def figures(root: Path) -> dict:
    m = root / "reports" / "metrics"
    sel = json.loads((m / "selection.json").read_text())
    return {
        "accuracy": sel["accuracy"], "gain_over_sc": sel.get("gain_over_sc"),
        "teacher_generations": json.loads((m / "rationales_eval_teacher.json").read_text())["generations"],
        "student_generations": {f.stem.removeprefix("exams_eval_"): json.loads(f.read_text())["generations"]
                                for f in sorted(m.glob("exams_eval_*.json"))},
        "m3": _m3_figures(m / "m3.json"),
    }


def _m3_figures(path: Path) -> dict | None:
    """M3's held-out score per setting at the first and last iteration, its calls and generations."""
    if not path.exists():
        return None
    m3 = json.loads(path.read_text())
    keep = ("metric", "runs", "heldout_zero_shot", "gain", "vs_self", "calls_per_iteration", "proposals", "generations")
    last = str(m3["iterations"])
    return {"first_to_last": {s: [v["0"], v[last]] for s, v in m3["heldout"].items()}, **{k: m3.get(k) for k in keep}}


def timed(root: Path, *cmd: str) -> tuple[float, set[str]]:
    start = time.perf_counter()
    proc = run(root, *cmd)
    return time.perf_counter() - start, ran_stages(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control", action="store_true", help="also run the ignoring-student control")
    parser.add_argument("--keep", action="store_true", help="keep the temp copy and print its path")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lbt-bench-"))
    copy_project(root)
    for cmd in (("git", "init", "-q", "-b", "main"), ("git", "add", "-A"), ("git", "commit", "-qm", "bench")):
        run(root, *cmd)
    seconds, stages = timed(root, "dvc", "repro")
    print(f"dvc repro (default toy world, from scratch): {seconds:.0f} s wall, stages: {sorted(stages)}")
    print("notebook seconds per stage:", json.dumps(stage_times(root)))
    print("figures:", json.dumps(figures(root), indent=1))
    seconds, stages = timed(root, "dvc", "repro")
    print(f"second dvc repro: {seconds:.1f} s, stages run: {sorted(stages) or 'none'}")
    if args.control:
        run(root, "git", "add", "-A")
        run(root, "git", "commit", "-qm", "baseline")
        seconds, stages = timed(root, "dvc", "exp", "run", "-S", "toy.student.follow_prob=0")
        print(f"control (toy.student.follow_prob=0): {seconds:.0f} s, stages: {sorted(stages)}")
        print("control figures:", json.dumps(figures(root), indent=1))
    if args.keep:
        print("kept:", root)


if __name__ == "__main__":
    main()
