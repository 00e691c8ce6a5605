"""The whole pipeline as a user runs it: `dvc repro` in a temp copy of the repo, micro sizes.

One module-scoped run, then checks of what DVC reruns and what the cache saves.
"""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
import yaml

from lbt import robustness

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

MICRO = {
    "toy.world.n_verbs": 6, "toy.problems.n_tp": 10, "toy.problems.n_ep": 2, "toy.problems.n_train_families": 6,
    "toy.train.n_layer": 1, "toy.train.n_embd": 32, "toy.train.n_head": 2, "toy.train.steps": 150,
    "toy.train.batch_size": 16, "toy.train.warmup_steps": 5, "toy.train.cooldown_steps": 10,
    "toy.train.probe_every": 20, "toy.train.probe_size": 32, "rationales.num_rationales": 4,
    "selection.resample_sizes": [1, 2, 4], "selection.resample_trials": 5,
    "m2.num_rationales": 8, "m2.seeds": [0], "m2.pairs.threshold": 0.0, "m2.dpo.batch_size": 4, "m2.dpo.max_length": 64,
    "m3.iterations": 1, "m3.minibatch": 4, "m3.score_sample": 6, "m3.heldout": 10, "m3.runs": 2,
    "toy.student.personas.alice.flawed_verbs": ["blip"], "toy.student.personas.bob.flawed_verbs": ["zork"],
}
M2_STAGES = {"rationales_train-teacher", "exams_train-teacher__bob", "m2_pairs", "m2_train", "m2_evaluate"}  # m2.students: [bob]


_set = robustness.set_dotted


def run(cwd: Path, *cmd: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env={**robustness.run_env(), **env}, capture_output=True, text=True,
                          timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def ran_stages(proc: subprocess.CompletedProcess) -> set[str]:
    out = proc.stdout + proc.stderr
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage '")}


def copy_project(dest: Path) -> None:
    """The repo's files as a fresh clone would have them (plus uncommitted source changes)."""
    robustness.copy_project(REPO, dest)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lbt")
    copy_project(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    for key, value in MICRO.items():
        _set(params, key, value)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(root, "git", "init", "-q", "-b", "main")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "micro profile")
    first = run(root, "dvc", "repro", **_recording_loaded_modules(_loaded_folder(root)))
    (root / "first_repro.log").write_text(first.stdout + first.stderr)
    return root


# Every Python process of the first repro (stage runners, their kernels, the kernels' worker
# processes) writes the lbt modules it holds each time it imports one, and when it exits (a kernel
# stopped at the end of its stage runs no exit handler; a module loaded by importlib raises no
# import event, but shows in the next snapshot or the last): what each stage really ran.
RECORDER = """import atexit, json, os, sys
def _snapshot():
    main = getattr(sys.modules.get("__main__"), "__spec__", None)  # `python -m lbt.stage` runs as __main__
    names = [*list(sys.modules), *([main.name] if main else [])]
    line = {"pid": os.getpid(), "ppid": os.getppid(), "argv": sys.argv,
            "modules": sorted({m for m in names if m == "lbt" or m.startswith("lbt.")})}
    with open(os.path.join(os.environ["LBT_LOADED"], f"{os.getpid()}.txt"), "a") as f:
        f.write(json.dumps(line) + "\\n")
def _on_import(event, args):
    if event == "import" and (args[0] == "lbt" or args[0].startswith("lbt.")):
        _snapshot()
sys.addaudithook(_on_import)
atexit.register(_snapshot)
"""


def _loaded_folder(project: Path) -> Path:
    return project.with_name(f"{project.name}-loaded")


def _recording_loaded_modules(folder: Path) -> dict[str, str]:
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(RECORDER)
    paths = [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths), "LBT_LOADED": str(folder)}


def loaded_by_stage(folder: Path) -> dict[str, set[str]]:
    """Stage name -> the lbt modules its runner and every process under it loaded."""
    records = {}
    for path in folder.glob("*.txt"):
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        records[lines[0]["pid"]] = {**lines[-1], "modules": [m for line in lines for m in line["modules"]]}
    out: dict[str, set[str]] = {}  # an import that failed (a name tried as a submodule) has no file
    for record in records.values():
        top = record
        while top["ppid"] in records and not top["argv"][0].endswith("lbt/stage.py"):
            top = records[top["ppid"]]
        if top["argv"][0].endswith("lbt/stage.py"):
            out.setdefault(Path(top["argv"][2]).stem, set()).update(record["modules"])
    return out


def metrics(root: Path, name: str) -> dict:
    return json.loads((root / "reports" / "metrics" / f"{name}.json").read_text())


def test_repro_runs_every_stage_and_writes_results(project):
    log = (project / "first_repro.log").read_text()
    assert ran_stages(subprocess.CompletedProcess([], 0, log, "")) == {
        "check", "prepare", "train_toy", "rationales-teacher", "exams-teacher__alice", "exams-teacher__bob",
        "adaptive", "scores", "select", "m3", "report"} | M2_STAGES
    sel = metrics(project, "selection")
    assert set(sel["accuracy"]["teacher"]) == {"alice", "bob", "alice+bob"}  # two personas and their group
    accuracy = sel["accuracy"]["teacher"]["alice+bob"]
    assert set(accuracy) == {"greedy", "sc", "m1_max", "m1_sum", "m1_avg"}
    picks = pl.read_parquet(project / "data" / "m1" / "selections.parquet").filter(
        (pl.col("teacher") == "teacher") & (pl.col("student") == "alice+bob"))
    assert picks.group_by("method").len()["len"].to_list() == [10] * 5  # one pick per TP and method
    recomputed = dict(picks.group_by("method").agg(pl.col("correct").mean()).iter_rows())
    assert accuracy == pytest.approx(recomputed, abs=5e-5)  # the metrics are the picks' accuracy (4 decimals)
    adaptive = sel["adaptive"]["teacher"]["alice"]
    assert set(adaptive["accuracy"]) == {"m1_max", "m1_sum", "m1_avg"}
    assert 0 <= adaptive["student_generations"] <= adaptive["full_exam_generations"]
    assert metrics(project, "rationales_eval_teacher")["generations"]["requested"] == 10 * 4 + 10
    for persona in ("alice", "bob"):  # one model folder, two prompt prefixes: no shared cache entries
        exams = metrics(project, f"exams_eval_teacher__{persona}")
        assert exams["n_exam_answers"] == 10 * 4 * 2 and exams["generations"]["from_cache"] == 0
    for nb in ("prepare", "train_toy", "rationales-teacher", "exams-teacher__alice",
               "adaptive", "scores", "select", "m3", "report"):
        cells = json.loads((project / "reports" / "notebooks" / f"{nb}.ipynb").read_text())["cells"]
        outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert outputs, nb
        shown = json.dumps(outputs)
        assert "shape: (" not in shown and "<Figure size" not in shown, nb  # styled tables, figures as images
    assert _images(project, "train_toy") >= 1 and _images(project, "select") >= 2
    html = (project / "reports" / "report.html").read_text()
    assert "M1-MAX" in html and html.count("<img") >= 3  # selection, accuracy vs N, LbT-score histogram
    assert (project / "reports" / "figures" / "accuracy_vs_n.png").stat().st_size > 1000
    m3 = metrics(project, "m3")
    assert set(m3["heldout"]) == {"teacher", "alice", "bob", "alice+bob"} and m3["heldout_items"] == 10
    assert "Table 5" in html and (project / "reports" / "figures" / "m3_heldout.png").stat().st_size > 1000


def test_m2_stages_tune_and_evaluate_both_teachers(project):
    m2 = metrics(project, "m2")
    assert set(m2) >= {"original", "correctness_dpo", "m2"} and m2["n_problems"] == 10
    evaluation = pl.read_parquet(project / "data" / "m2" / "evaluation.parquet")
    per_seed = dict(evaluation.filter(pl.col("variant") == "m2").group_by("seed").agg(pl.col("correct").mean())
                    .select(pl.col("seed").cast(pl.String), "correct").iter_rows())
    assert m2["m2"]["per_seed"] == pytest.approx(per_seed, abs=5e-5)  # the tuned teacher's greedy answers
    original = evaluation.filter(pl.col("variant") == "original")
    assert original.height == 10 and m2["original"]["mean"] == pytest.approx(original["correct"].mean(), abs=5e-5)
    assert metrics(project, "rationales_train_teacher")["generations"]["requested"] == 6 * 8 + 6
    for run in ("m2-seed0", "correctness_dpo-seed0"):
        assert (project / "data" / "m2" / "models" / run / "model.safetensors").is_file()
        assert (project / "reports" / "m2" / "dvclive" / run / "metrics.json").is_file()
    assert metrics(project, "m2_train")["m2"]["0"]["steps"] >= 1
    for figure in ("m2_training_curves", "m2_accuracy"):
        assert (project / "reports" / "figures" / f"{figure}.png").stat().st_size > 1000
    html = (project / "reports" / "report.html").read_text()
    assert "Correctness-DPO" in html and "How the two pair sets differ" in html


@contextmanager
def params_set(project: Path, dotted: str, value):
    """params.yaml with one key changed, for the length of the block."""
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    _set(params, dotted, value)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        yield
    finally:
        (project / "params.yaml").write_text(original)


def test_a_dpo_param_changes_only_training(project):
    """What `dvc repro` would rerun first (m2_evaluate follows from the graph; the report reads `m2`)."""
    with params_set(project, "m2.dpo.beta", 0.2):
        status = json.loads(run(project, "dvc", "status", "--json").stdout)
    assert set(status) == {"check", "m2_train", "report"}


def test_more_m2_seeds_need_no_new_dvc_yaml(project):
    with params_set(project, "m2.seeds", [0, 1]):
        check = run(project, "python", "-m", "lbt.pipeline", "check", check=False)
        status = json.loads(run(project, "dvc", "status", "--json").stdout)
    assert check.returncode == 0, check.stderr
    assert set(status) == {"check", "m2_pairs", "m2_train", "m2_evaluate", "report"}


def _images(project: Path, notebook: str) -> int:
    cells = json.loads((project / "reports" / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))


def test_second_repro_runs_only_the_params_check(project):
    proc = run(project, "dvc", "repro")
    assert ran_stages(proc) == {"check"}
    status = json.loads(run(project, "dvc", "status", "--json").stdout)
    assert status == {"check": ["always changed"]}


def test_a_typo_in_a_key_no_stage_reads_stops_the_repro_before_any_stage(project):
    with params_set(project, "toy.student.follow_pro", 0):
        proc = run(project, "dvc", "repro", check=False)
    assert proc.returncode != 0
    assert ran_stages(proc) == {"check"}
    assert "unknown key `toy.student.follow_pro`" in proc.stdout + proc.stderr
    assert json.loads(run(project, "dvc", "status", "--json").stdout) == {"check": ["always changed"]}


def _code_files(project: Path, deps: list[str]) -> set[str]:
    """The lbt source files a dvc.yaml deps list names (a folder stands for its .py files)."""
    files = set()
    for dep in (d for d in deps if d.startswith("lbt/")):
        path = project / dep
        files |= {p.relative_to(project).as_posix() for p in path.glob("*.py")} if path.is_dir() else {dep}
    return files


def _module_files(project: Path, modules: set[str]) -> set[str]:
    """The files of `modules` (a name that is no module, an import that failed, has none)."""
    files = set()
    for module in modules:
        base = Path(*module.split("."))
        files |= {f.as_posix() for f in (base.with_suffix(".py"), base / "__init__.py") if (project / f).is_file()}
    return files


def test_each_stage_depends_on_exactly_the_lbt_modules_its_run_loaded(project):
    """The graph against the run: every module a stage's processes loaded (runner, kernel, its
    workers), and nothing else, is a code dependency of the stage in dvc.yaml."""
    loaded = loaded_by_stage(_loaded_folder(project))
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    notebook_stages = {name for name, s in stages.items() if s["cmd"].startswith("python -m lbt.stage ")}
    assert set(loaded) == notebook_stages
    for name in sorted(notebook_stages):
        ran = _module_files(project, loaded[name])
        declared = _code_files(project, stages[name]["deps"])
        assert ran == declared, (name, "loaded, not a dep:", sorted(ran - declared), "a dep, not loaded:",
                                 sorted(declared - ran))


def test_touching_the_sandbox_reruns_no_stage_of_the_toy_task(project):
    """The toy task runs no program: no stage but the always-run check depends on lbt/sandbox."""
    files = sorted((project / "lbt" / "sandbox").glob("*.py"))
    originals = {f: f.read_text() for f in files}
    try:
        for f in files:
            f.write_text(originals[f] + "\n# touched\n")
        status = json.loads(run(project, "dvc", "status", "--json").stdout)
    finally:
        for f, text in originals.items():
            f.write_text(text)
    assert set(status) == {"check"}


# One module per room; the stages that must rerun when it changes come from the import graph.
TOUCHED = ["lbt/methods/m2/dpo.py", "lbt/methods/m1/select.py", "lbt/report/m1.py", "lbt/teaching/exams.py", "lbt/teaching/scores.py",
           "lbt/toy/train.py", "lbt/toy/task.py", "lbt/engines/hf.py", "lbt/notebook.py",
           "lbt/tasks/math/grade.py", "lbt/methods/m1/config.py", "lbt/methods/m3/loop.py", "lbt/report/m3.py"]


@pytest.mark.parametrize("module", TOUCHED)
def test_touching_a_module_flags_exactly_the_stages_that_import_it(project, module):
    """Expected: the stages whose run loaded the module (the first repro's record)."""
    loaded = loaded_by_stage(_loaded_folder(project))
    expected = {name for name, modules in loaded.items() if module in _module_files(project, modules)}
    path = project / module
    original = path.read_text()
    path.write_text(original + "\n# touched\n")
    try:
        status = json.loads(run(project, "dvc", "status", "--json").stdout)
    finally:
        path.write_text(original)
    assert set(status) - {"check"} == expected
    if module in ("lbt/methods/m1/select.py", "lbt/report/m1.py", "lbt/methods/m1/config.py"):
        assert not {"train_toy", "rationales-teacher", "exams-teacher__alice"} & expected


def test_selection_param_reruns_only_selection_and_report(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["selection"]["resample_trials"] = 6
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran_stages(run(project, "dvc", "repro")) == {"check", "select", "report"}
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-qm", "baseline for experiments")


def test_exp_run_set_param_shows_in_exp_show_and_metrics_diff(project):
    proc = run(project, "dvc", "exp", "run", "-S", "selection.methods=[greedy,sc,m1_max]")
    assert ran_stages(proc) == {"check", "select", "report"}
    diff = json.loads(run(project, "dvc", "metrics", "diff", "--json").stdout)
    changed = diff["reports/metrics/selection.json"]
    assert "accuracy.teacher.alice.m1_sum" in changed and changed["accuracy.teacher.alice.m1_sum"]["new"] is None
    shown = run(project, "dvc", "exp", "show", "--json").stdout
    assert "resample_trials" in shown and "m1_max" in shown


def test_more_rationales_reuse_cached_generations(project):
    before = metrics(project, "rationales_eval_teacher")["generations"]
    # Up to `scores` only: the stages downstream of it (adaptive, select, M2, M3) add minutes, not checks.
    proc = run(project, "dvc", "exp", "run", "-S", "rationales.num_rationales=8", "scores")
    assert {"rationales-teacher", "exams-teacher__alice", "exams-teacher__bob", "scores"} <= ran_stages(proc)
    assert not {"prepare", "train_toy"} & ran_stages(proc)
    after = metrics(project, "rationales_eval_teacher")["generations"]
    assert before["requested"] == 10 * 4 + 10
    assert after["requested"] == 10 * 8 + 10
    assert after["generated"] == 10 * 4  # only samples 4..7; the first 4 and the greedy ones are cached
    exams = metrics(project, "exams_eval_teacher__alice")["generations"]
    assert exams["from_cache"] > 0
