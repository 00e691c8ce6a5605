"""The default's claims over several seeds: run `dvc repro` once per seed, then check every claim.

`scripts/robustness.py` is the command. Each run is a copy of the project (as a fresh clone has
it, plus uncommitted source) in a work folder, with `seed` (and, for the control,
`toy.student.follow_prob: 0`) set; its metrics files and M1's resampling curve are kept as one
JSON file per run under `reports/robustness/runs/`. `claims(runs)` turns them into one row per
claim: its figure per seed, mean ± std, the worst seed, the threshold and whether every seed
passes. The README's result figures are printed from `reports/robustness/claims.json`
(`readme_block`), and a test fails when the README and the file disagree.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl
import yaml

from lbt import paths

OUT = Path("reports/robustness")
RUNS = OUT / "runs"
TRAINING_SWEEP = OUT / "training.json"  # scripts/toy_training_seeds.py
CONTROL = {"toy.student.follow_prob": 0.0}
CONTROL_TARGET = "select"  # the control needs M1 only: its stage and what it depends on
BLOCK_START, BLOCK_END = "<!-- robustness:start -->", "<!-- robustness:end -->"


def copy_project(src: Path, dest: Path) -> None:
    """The project's files as a fresh clone has them (plus uncommitted source changes), no run outputs."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=src,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        outputs = rel == "dvc.lock" or (rel.startswith(("data/", "reports/")) and not rel.endswith("README.md"))
        if (src / rel).is_file() and not outputs:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dest / rel)


def set_dotted(tree: dict, dotted: str, value) -> None:
    """Set `a.b.c` in a nested params tree."""
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree[key]
    tree[leaf] = value


def set_params(params_file: Path, overrides: dict) -> None:
    tree = yaml.safe_load(params_file.read_text())
    for dotted, value in overrides.items():
        set_dotted(tree, dotted, value)
    params_file.write_text(yaml.safe_dump(tree, sort_keys=False))


def run_env() -> dict:
    """The environment of a `dvc repro` in a project copy: no analytics, a git identity, this venv first."""
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="lbt", GIT_AUTHOR_EMAIL="lbt@localhost",
               GIT_COMMITTER_NAME="lbt", GIT_COMMITTER_EMAIL="lbt@localhost")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def run_seed(name: str, overrides: dict, targets: list[str], workdir: Path, repo: Path = Path("."),
             update: bool = False) -> dict:
    """One `dvc repro` of the project with `overrides`, in `workdir/name`; the run's results. With
    `update` and a run folder there, its files are brought up to date and only the stages that
    changed rerun (DVC's own bookkeeping); `wall_s` is then that rerun's."""
    dest = workdir / name
    commit = _commit(repo)
    fresh = not (update and (dest / "dvc.lock").exists())
    if fresh:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
    copy_project(repo.resolve(), dest)
    set_params(dest / "params.yaml", overrides)
    init = [["git", "init", "-q", "-b", "main"]] if fresh else []
    for cmd in (*init, ["git", "add", "-A"], ["git", "commit", "-qm", name, "--allow-empty"]):
        subprocess.run(cmd, cwd=dest, env=run_env(), check=True, capture_output=True)
    start = time.perf_counter()
    proc = subprocess.run(["dvc", "repro", *targets], cwd=dest, env=run_env(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    (dest / "repro.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"run {name}: dvc repro failed ({proc.returncode}); its log: {dest / 'repro.log'}")
    metrics = {f.stem: json.loads(f.read_text()) for f in sorted((dest / "reports" / "metrics").glob("*.json"))}
    curve = pl.read_parquet(dest / paths.RESAMPLING)
    return {"name": name, "commit": commit, "overrides": overrides, "targets": targets, "wall_s": round(wall, 1),
            "fresh": fresh,
            "machine": machine(), "metrics": metrics, "curve": curve.to_dicts()}


def _commit(repo: Path) -> str:
    """The commit the run copies, marked `+changes` when the tree differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    # the runs' own results (written after each run) are not a change of what runs
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", f":!{OUT}"],
                           cwd=repo, capture_output=True, text=True).stdout.strip()
    return head + ("+changes" if dirty else "")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


@dataclass
class Claim:
    """One claim: its figure per seed, the threshold every seed must reach, and the summary."""

    name: str
    figure: str  # what the number is
    per_seed: dict[str, float]
    threshold: str  # e.g. ">= 15"
    bound: float  # the number the threshold names (the figure's dashed line)
    passed: bool
    mean: float = 0.0
    std: float = 0.0
    worst: str = ""

    def __post_init__(self) -> None:
        values = list(self.per_seed.values())
        self.mean = round(statistics.fmean(values), 2)
        self.std = round(statistics.stdev(values), 2) if len(values) > 1 else 0.0
        seed = (min if self.threshold.startswith(">") else max)(self.per_seed, key=self.per_seed.get)
        self.worst = f"{self.per_seed[seed]:g} (seed {seed})"


def _at_least(name: str, figure: str, per_seed: dict[str, float], bound: float, strict: bool = False) -> Claim:
    ok = all(v > bound if strict else v >= bound for v in per_seed.values())
    return Claim(name, figure, per_seed, f"{'>' if strict else '>='} {bound:g}", bound, ok)


def _points(x: float) -> float:
    return round(100 * x, 1)


def _selection(run: dict) -> dict:
    return run["metrics"]["selection"]["accuracy"]["teacher"]


def _curve(run: dict, student: str) -> dict[str, dict[int, float]]:
    """method → {N: mean accuracy} for one student of a run's resampling curve."""
    out: dict[str, dict[int, float]] = {}
    for row in run["curve"]:
        if row["teacher"] == "teacher" and row["student"] == student:
            out.setdefault(row["method"], {})[row["n"]] = row["mean"]
    return out


def _m1_gain(run: dict, student: str) -> float:
    """Best M1 − SC at the largest N (points)."""
    by_method = _selection(run)[student]
    return _points(max(v for m, v in by_method.items() if m.startswith("m1_")) - by_method["sc"])


def m1_claims(runs: dict[str, dict], group: str, personas: list[str]) -> list[Claim]:
    gain = {s: {seed: _m1_gain(r, s) for seed, r in runs.items()} for s in [group, *personas]}
    out = [_at_least(f"M1 beats SC: {group}", "best M1 − SC at the largest N (points)", gain[group], 15)]
    out += [_at_least(f"M1 beats SC: {s} alone", "best M1 − SC at the largest N (points)", gain[s], 5)
            for s in personas]
    return out


def regime_claims(runs: dict[str, dict], students: list[str]) -> list[Claim]:
    """Greedy ≤ SC; SC does not fall as N grows; M1 above SC at every N ≥ 2 (every student)."""
    greedy_gap, sc_fall, m1_margin = {}, {}, {}
    for seed, r in runs.items():
        sel = _selection(r)
        greedy_gap[seed] = min(_points(sel[s]["sc"] - sel[s]["greedy"]) for s in students)
        falls, margins = [], []
        for s in students:
            curve = _curve(r, s)
            sc = [curve["sc"][n] for n in sorted(curve["sc"])]
            falls += [a - b for a, b in zip(sc, sc[1:])]
            m1 = {n: max(c[n] for m, c in curve.items() if m.startswith("m1_")) for n in curve["sc"] if n >= 2}
            margins += [m1[n] - curve["sc"][n] for n in m1]
        sc_fall[seed] = _points(max(falls))
        m1_margin[seed] = _points(min(margins))
    return [
        _at_least("Greedy ≤ SC", "SC − greedy, least over the students (points)", greedy_gap, 0),
        Claim("SC does not fall as N grows", "largest fall of SC from one N to the next (points)", sc_fall,
              "<= 1", 1, all(v <= 1 for v in sc_fall.values())),
        _at_least("M1 above SC at every N ≥ 2", "best M1 − SC, least over N ≥ 2 and students (points)",
                  m1_margin, 0, strict=True),
    ]


def m2_claims(runs: dict[str, dict]) -> list[Claim]:
    gain, noise = {}, {}
    for seed, r in runs.items():
        m2 = r["metrics"]["m2"]
        gain[seed] = _points(m2["m2"]["mean"] - m2["correctness_dpo"]["mean"])
        noise[seed] = round(gain[seed] - 2 * _points(max(m2["m2"]["std"], m2["correctness_dpo"]["std"])), 1)
    return [_at_least("M2 beats correctness-DPO", "M2 − correctness-DPO, greedy held-out (points)", gain, 3),
            _at_least("… by twice its noise", "M2 − correctness-DPO − 2 × the larger DPO-seed std (points)", noise, 0)]


def m3_claims(runs: dict[str, dict], several: str, members: list[str]) -> list[Claim]:
    help_, gain, diverse = {}, {}, {}
    for seed, r in runs.items():
        m3 = r["metrics"]["m3"]
        final = {s: v[str(m3["iterations"])]["mean"] for s, v in m3["heldout"].items()}
        help_[seed] = _points(m3["heldout"]["teacher"]["0"]["mean"] - m3["heldout_zero_shot"])
        gain[seed] = _points(max(m3["gain"].values()))
        diverse[seed] = _points(final[several] - max(final[m] for m in members))
    return [
        _at_least("M3's exemplars help", "held-out, iteration 0 − zero-shot (points)", help_, 0),
        _at_least("M3 gains over its iterations", "best setting's final − iteration 0 (points)", gain, 0, strict=True),
        _at_least(f"Several students ({several}) ≥ each alone", f"final {several} − best of {', '.join(members)} "
                  "alone (points)", diverse, 0),
    ]


def training_claims(runs: dict[str, dict]) -> list[Claim]:
    return [_at_least(f"The {role} learns its skills (1 thread)", "final probe (share of held-out prompts passed)",
                      {seed: r["metrics"][f"train_{role}"]["final_probe"] for seed, r in runs.items()}, 0.9)
            for role in ("teacher", "student")]


def sweep_claims(sweep: dict | None) -> list[Claim]:
    """From `scripts/toy_training_seeds.py`'s file: training alone at other thread counts (float
    reductions in other orders, a stand-in for other CPUs)."""
    out = []
    for threads in sorted({r["threads"] for r in (sweep or {}).get("runs", [])} - {1}):
        for role in ("teacher", "student"):
            probes = {str(r["seed"]): r["final_probe"] for r in sweep["runs"]
                      if r["threads"] == threads and r["role"] == role}
            out.append(_at_least(f"The {role} learns its skills ({threads} threads)",
                                 f"final probe, training alone (seeds {', '.join(sorted(probes, key=int))})", probes, 0.9))
    return out


def control_claims(runs: dict[str, dict], control: dict[str, dict], group: str) -> list[Claim]:
    """The control (the student ignores its examples) erases M1's gain: its M1 − SC is within two
    standard deviations over the seeds of zero, while the default's is not."""
    gains = {seed: _m1_gain(r, group) for seed, r in control.items()}
    values = list(gains.values())
    bound = max(2 * statistics.stdev(values) if len(values) > 1 else 0.0, 1.0)
    return [Claim(f"The control erases M1's gain ({group})", "best M1 − SC with follow_prob 0 (points)", gains,
                  f"mean within ±{bound:.1f} (2 std or 1)", bound, abs(statistics.fmean(values)) <= bound)]


def claims(runs: dict[str, dict], control: dict[str, dict], params: dict, sweep: dict | None = None) -> list[Claim]:
    groups = params["selection"]["student_groups"]
    group, personas = next(iter(groups.items()))
    settings = params["m3"]["settings"]
    several = next(s for s, models in settings.items() if len(models) > 1)
    out = training_claims(runs) + sweep_claims(sweep)
    out += regime_claims(runs, [*personas, group]) + m1_claims(runs, group, personas)
    out += m2_claims(runs) + m3_claims(runs, several, settings[several])
    return out + (control_claims(runs, control, group) if control else [])


def load_runs(folder: Path = RUNS) -> tuple[dict[str, dict], dict[str, dict]]:
    """(default runs, control runs) by seed, from the run files."""
    runs, control = {}, {}
    for f in sorted(folder.glob("*.json")):
        run = json.loads(f.read_text())
        kind, seed = run["name"].rsplit("-", 1)
        (control if kind == "control" else runs)[seed] = run
    return runs, control


def summary(runs: dict[str, dict], control: dict[str, dict], params: dict, sweep: dict | None = None) -> dict:
    walls = [r.get("full_wall_s", r["wall_s"]) for r in runs.values()]
    return {"seeds": sorted(runs, key=int), "control_seeds": sorted(control, key=int),
            "machine": next(iter(runs.values()))["machine"], "repro_wall_s": {"mean": round(statistics.fmean(walls)),
                                                                             "max": round(max(walls))},
            "claims": [asdict(c) for c in claims(runs, control, params, sweep)]}


def readme_block(result: dict) -> str:
    """The README's table of claims, from `claims.json`."""
    seeds = ", ".join(result["seeds"])
    lines = [BLOCK_START, "",
             f"Seeds {seeds} on {result['machine']} (`python scripts/robustness.py`; the control: seeds "
             f"{', '.join(result['control_seeds']) or 'none'}); a default `dvc repro` took "
             f"{result['repro_wall_s']['mean']} s on average, {result['repro_wall_s']['max']} s at most.", "",
             "| claim | figure | mean ± std | worst seed | needs | holds |", "|---|---|---|---|---|---|"]
    for c in result["claims"]:
        lines.append(f"| {c['name']} | {c['figure']} | {c['mean']:g} ± {c['std']:g} | {c['worst']} | "
                     f"{c['threshold']} | {'yes' if c['passed'] else '**no**'} |")
    return "\n".join([*lines, "", BLOCK_END])


def write_figure(result: dict, path: Path) -> None:
    """Each claim's figure per seed (dots) beside its threshold (a line): one panel per claim."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items, cols = result["claims"], 4
    rows = -(-len(items) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows), squeeze=False)
    for ax, c in zip(axes.flat, items):
        values = list(c["per_seed"].values())
        ax.scatter(range(len(values)), values, color="tab:green" if c["passed"] else "tab:red", s=16)
        bound = c["bound"]
        for line in (bound, -bound) if c["threshold"].startswith("mean within") else (bound,):
            ax.axhline(line, color="grey", lw=0.8, ls="--")
        ax.set_title("\n".join(textwrap.wrap(c["name"], 34)), fontsize=8)
        ax.set_xticks(range(len(values)), [f"seed {k}" for k in c["per_seed"]], fontsize=6)
        ax.tick_params(axis="y", labelsize=6)
    for ax in list(axes.flat)[len(items):]:
        ax.axis("off")
    fig.suptitle("The default's claims per seed (dashed: what every seed must reach)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
