"""The DVC pipeline, generated from params.yaml so that its graph tells the truth.

Each stage depends on exactly the code it imports (the import graph of its notebook and of
the stage runner, read from the source), the params sections it reads, the model folders of
the models it runs, and the data of the stages before it. Which stages exist follows the
params file: toy models are trained only for the toy task, a model folder built from a GGUF file
is converted once (`convert-<folder>`), one rationales stage per teacher, one exams stage per
(teacher, student) pair. DVC's own templating cannot express this (a
missing params key is an error, `${item.path}` fails for an API model, deps lists cannot be
interpolated), so `dvc.yaml` is written by

    python -m lbt.pipeline            # write dvc.yaml from params.yaml (after changing task/teachers/students)
    python -m lbt.pipeline --list     # the stages, what they read and import
    python -m lbt.pipeline check      # the first stage of every `dvc repro`

`check` runs on every `dvc repro` (always changed) before any other stage: it validates every
key of params.yaml, also keys no stage reads, and stops when dvc.yaml is out of date.
"""

from __future__ import annotations

import argparse
import ast
import shlex
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from lbt import paths
from lbt.config import MISSING, SECTIONS, ParamsError, load_params, lookup, schema_modules
from lbt.engines.gguf import GGUFSourceError, resolve_gguf
from lbt.teaching.config import debug_flags, with_debugged

ROOT = Path(__file__).resolve().parents[1]
HEADER = "# Generated from params.yaml by `python -m lbt.pipeline`: edit params.yaml and rerun that, not this file.\n"

# The params sections a task's stages read: to build problems, and to prompt/grade/group answers.
TASK_SECTIONS = {
    "toy": {"problems": ["toy.world", "toy.problems"], "answers": [], "report": ["toy"]},
    "math": {"problems": ["math"], "answers": ["math"], "report": ["math"]},
    "code": {"problems": ["code"], "answers": ["code"], "report": ["code"]},
    "toy_code": {"problems": ["toy.world", "toy_code"], "answers": ["toy_code"], "report": ["toy", "toy_code"]},
    "classify": {"problems": ["classify"], "answers": ["classify"], "report": ["classify"]},
}
TASK_MODULES = {"toy": "lbt.tasks.toy", "math": "lbt.tasks.math", "code": "lbt.tasks.code",
                "toy_code": "lbt.tasks.toy_code", "classify": "lbt.tasks.classify"}
M1_TASKS = ("toy", "math", "code", "toy_code")  # tasks with teaching problems and exams: the M1 stages run on them
# Tasks whose tiny models are trained first (stage `train_toy`: notebook, sections it reads).
TOY_TRAINING = {
    "toy": ("toy/train", ["seed", "toy.world", "toy.train", "toy.student"]),
    "toy_code": ("toy/train_code", ["seed", "toy.world", "toy.train", "toy.student", "toy_code"]),
}
# Tasks whose answers are programs: V-scores, S-scores, self-debugging, the `select_code` stage.
CODE_TASKS = ("code", "toy_code")
BACKEND_MODULES = {"hf": "lbt.engines.hf", "vllm": "lbt.engines.vllm", "openai": "lbt.engines.openai"}
RAY_MODULES = {"hf": "lbt.engines.ray_pool", "vllm": "lbt.engines.ray_vllm"}  # a model with `ray:` set
# Modules whose imports inside functions pick one of several implementations by params: the
# graph follows only the implementation a stage uses (its task, its models' backends).
DISPATCH = {"lbt.tasks.registry", "lbt.engines.registry"}
RUNNER = "lbt.stage"
GGUF_MODULE = "lbt.engines.gguf"  # the convert stages' command


@dataclass
class Stage:
    name: str
    notebook: str  # under notebooks/, without .ipynb ("" for the check stage)
    reads: list[str]
    deps: list[str] = field(default_factory=list)
    outs: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)  # PNG figures: `dvc plots show` needs no script for them
    args: dict[str, str] = field(default_factory=dict)
    models: list[dict] = field(default_factory=list)  # raw model entries it runs
    html: str | None = None
    command: list[str] = field(default_factory=list)  # `python -m <module> <args>` instead of a notebook


# -- the stages of a params file ----------------------------------------------------------------


def stages_for(raw: dict) -> list[Stage]:
    task = raw.get("task", "toy")
    if task not in TASK_SECTIONS:
        raise ParamsError(f"params.yaml: `task`: must be one of {', '.join(TASK_SECTIONS)} (got {task!r}).")
    teachers, students = raw.get("teachers") or {}, raw.get("students") or {}
    sections, debug = TASK_SECTIONS[task], _self_debug(raw, task)
    debug_reads = ["self_debug"] if "self_debug" in raw else []  # read only where the file has it
    answers = [*sections["answers"], *debug_reads]
    teacher_names, student_names = with_debugged(teachers, debug[0]), with_debugged(students, debug[1])
    stages = [Stage("prepare", "tasks/prepare", ["task", *sections["problems"]], outs=[str(paths.PROBLEMS)])]
    stages += convert_stages(raw)
    if task in TOY_TRAINING:
        stages.append(_train_stage(*TOY_TRAINING[task]))
    if task not in M1_TASKS:  # classification: M3 only
        return stages + ([_m3_stage(raw, sections["answers"])] if "m3" in raw else []) + [
            _m3_report_stage(sections["report"])]
    stages += [_rationales_stage(t, m, answers, debug[0]) for t, m in teachers.items()]
    stages += [_exams_stage(t, s, m, answers, debug[1]) for t in teacher_names for s, m in students.items()]
    pairs = [(t, s) for t in teacher_names for s in student_names]
    stages.append(Stage("scores", "teaching/scores", ["teachers", "students", *debug_reads],
                        deps=[str(paths.exams(t, s)) for t, s in pairs], outs=[str(paths.lbt_scores())]))
    adaptive = [(t, s) for t in teachers for s in students] if adaptive_enabled(raw) else []
    ties = lookup(raw, "selection.ties") is not MISSING
    stages += [_adaptive_stage(list(teachers), students, answers, ties)] if adaptive else []
    stages.append(_select_stage(teacher_names, answers, adaptive))
    if task in CODE_TASKS:
        stages.append(_code_select_stage(teacher_names, answers))
    m2 = m2_stages(raw, sections["answers"]) if "m2" in raw else []
    stages += m2
    if "m3" in raw:
        stages.append(_m3_stage(raw, sections["answers"]))
    stages.append(_report_stage(teacher_names, pairs, [*sections["report"], *debug_reads],
                                task in CODE_TASKS, m2, "m3" in raw, adaptive))
    return stages


def _self_debug(raw: dict, task: str) -> tuple[bool, bool]:
    """(teacher, student) self-debugging; only code tasks can say why an answer fails."""
    debug = debug_flags(raw.get("self_debug"))
    if any(debug) and task not in CODE_TASKS:
        raise ParamsError(f"params.yaml: `self_debug`: the {task} task gives no feedback on answers (only "
                          f"{', '.join(CODE_TASKS)} do): set self_debug.teacher and self_debug.student to false.")
    return debug


def convert_stages(raw: dict) -> list[Stage]:
    """One `convert-<folder>` stage per model folder built from a GGUF file (`gguf:` in a model entry)."""
    sources: dict[str, tuple[str, str]] = {}  # folder -> (gguf source, the key that names it)
    for section in ("teachers", "students"):
        for name, model in (raw.get(section) or {}).items():
            if not isinstance(model, dict) or not model.get("gguf"):
                continue
            key, folder = f"{section}.{name}.gguf", str(model.get("path"))
            if sources.setdefault(folder, (model["gguf"], key))[0] != model["gguf"]:
                raise ParamsError(f"params.yaml: `{key}` and `{sources[folder][1]}` build the one folder {folder} from "
                                  "different GGUF files: give one of them another `path`.")
    stages = [_convert_stage(folder, source, key) for folder, (source, key) in sources.items()]
    names = [s.name for s in stages]
    if len(set(names)) < len(names):
        raise ParamsError("params.yaml: two GGUF-built model folders share their last name, and so their convert "
                          "stage's name: rename one folder in its `path`.")
    return stages


def _convert_stage(folder: str, source: str, key: str) -> Stage:
    try:
        file = resolve_gguf(source)
    except GGUFSourceError as err:
        raise ParamsError(f"params.yaml: `{key}`: {err}") from None
    file = file.resolve()
    dep = file.relative_to(ROOT).as_posix() if file.is_relative_to(ROOT) else str(file)
    return Stage(f"convert-{Path(folder).name}", "", [], deps=[dep], outs=[folder],
                 command=[GGUF_MODULE, source, folder])


def _train_stage(notebook: str, reads: list[str]) -> Stage:
    roles = ("teacher", "student")
    return Stage("train_toy", notebook, reads,
                 outs=[str(paths.toy_model(r)) for r in roles], metrics=[str(paths.train_metrics(r)) for r in roles])


def _rationales_stage(teacher: str, model: dict, answers: list[str], debug: bool = False,
                      split: str = "eval") -> Stage:
    names = with_debugged([teacher], debug)
    on_train = split != "eval"  # the training split's stages read M2's number of TRs per TP
    return Stage(
        f"{_split_prefix('rationales', split)}-{teacher}", "teaching/rationales",
        ["task", *answers, "seed", "cache_path", f"teachers.{teacher}", "rationales",
         *(["m2.num_rationales"] if on_train else [])],
        deps=[str(paths.PROBLEMS)],
        outs=[str(f(t, split)) for t in names for f in (paths.rationales, paths.greedy)],
        metrics=[str(paths.rationales_metrics(t, split)) for t in names],
        args={"teacher": teacher, **({"split": split} if on_train else {})}, models=[model],
    )


def _exams_stage(teacher: str, student: str, model: dict, answers: list[str], debug: bool = False,
                 split: str = "eval") -> Stage:
    names = with_debugged([student], debug)
    return Stage(
        f"{_split_prefix('exams', split)}-{paths.pair_name(teacher, student)}", "teaching/exams",
        ["task", *answers, "seed", "cache_path", f"students.{student}", "exam"],
        deps=[str(paths.PROBLEMS), str(paths.rationales(teacher, split))],
        outs=[str(paths.exams(teacher, s, split)) for s in names],
        metrics=[str(paths.exams_metrics(teacher, s, split)) for s in names],
        args={"teacher": teacher, "student": student, **({"split": split} if split != "eval" else {})},
        models=[model],
    )


def _split_prefix(stage: str, split: str) -> str:
    """`rationales` on the eval split (M1's stage names), `rationales_train` on the training split."""
    return stage if split == "eval" else f"{stage}_{split}"


def adaptive_enabled(raw: dict) -> bool:
    """Whether the adaptive exam stages run: `selection.adaptive` is in the params file, enabled."""
    return lookup(raw, "selection.adaptive") is not MISSING and lookup(raw, "selection.adaptive.enabled") is not False


def _adaptive_stage(teachers: list[str], students: dict[str, dict], answers: list[str], ties: bool) -> Stage:
    """One stage for every (teacher, student) pair; reads `selection.adaptive` and the tie rule
    (when the file sets one), not the whole section."""
    return Stage(
        "adaptive", "m1/adaptive",
        ["task", *answers, "seed", "cache_path", *(f"students.{s}" for s in students), "exam", "selection.adaptive",
         *(["selection.ties"] if ties else [])],
        deps=[str(paths.PROBLEMS), *(str(paths.rationales(t)) for t in teachers)],
        outs=[str(paths.adaptive_picks(t, s)) for t in teachers for s in students],
        metrics=[str(paths.adaptive_metrics(t, s)) for t in teachers for s in students],
        args={"teachers": ",".join(teachers), "students": ",".join(students)}, models=list(students.values()),
    )


def _select_stage(teachers: list[str], answers: list[str], adaptive: list[tuple[str, str]]) -> Stage:
    return Stage(
        "select", "m1/select", ["task", *answers, "seed", "teachers", "students", "selection"],
        deps=[str(paths.PROBLEMS), str(paths.lbt_scores()), *(str(paths.rationales(t)) for t in teachers),
              *(str(paths.greedy(t)) for t in teachers),
              *(str(p) for t, s in adaptive for p in (paths.adaptive_picks(t, s), paths.adaptive_metrics(t, s)))],
        outs=[str(paths.SELECTIONS), str(paths.RESAMPLING), str(paths.BREAKDOWN)],
        metrics=[str(paths.SELECTION_METRICS)],
        plots=[str(paths.figure(name)) for name in ("accuracy_by_method", "accuracy_vs_n", "accuracy_vs_compute")],
    )


def _code_select_stage(teachers: list[str], answers: list[str]) -> Stage:
    return Stage(
        "select_code", "m1/select_code", ["task", *answers, "seed", "teachers", "students", "selection"],
        deps=[str(paths.PROBLEMS), str(paths.lbt_scores()), *(str(paths.rationales(t)) for t in teachers),
              *(str(paths.greedy(t)) for t in teachers)],
        outs=[str(paths.CODE_SELECTIONS)], metrics=[str(paths.CODE_METRICS)], plots=[str(paths.figure("code_s_scores"))],
    )


def _m3_stage(raw: dict, answers: list[str]) -> Stage:
    """M3's loop: every student setting side by side; runs the teacher and each setting's models."""
    m3, teachers, students = raw.get("m3") or {}, raw.get("teachers") or {}, raw.get("students") or {}
    names = [m3.get("teacher") or next(iter(teachers), None)]
    names += [n for members in (m3.get("settings") or {}).values() for n in members]
    known = {**students, **teachers}
    models = list({n: known[n] for n in names if n in known}.values())
    return Stage("m3", "m3/m3", ["task", *answers, "seed", "cache_path", "teachers", "students", "m3"],
                 deps=[str(paths.PROBLEMS)], outs=[str(paths.m3_table(t)) for t in paths.M3_TABLES],
                 metrics=[str(paths.M3_METRICS)], plots=[str(paths.figure(paths.M3_FIGURE))], models=models)


M3_REPORT_DEPS = [*(str(paths.m3_table(t)) for t in paths.M3_TABLES), str(paths.M3_METRICS)]


def _report_stage(teachers: list[str], pairs: list[tuple[str, str]], task_sections: list[str], code: bool,
                  m2: list[Stage], m3: bool, adaptive: list[tuple[str, str]]) -> Stage:
    deps = [str(paths.SELECTIONS), str(paths.RESAMPLING), str(paths.BREAKDOWN), str(paths.SELECTION_METRICS),
            str(paths.lbt_scores()), *(str(paths.rationales(t)) for t in teachers),
            *(str(paths.rationales_metrics(t)) for t in teachers),
            *(str(paths.exams_metrics(t, s)) for t, s in pairs),
            *(str(paths.adaptive_metrics(t, s)) for t, s in adaptive)]
    if m2:  # M2's data, and every M2 stage's metrics (the training split's generation counts too)
        deps += [str(p) for p in (paths.M2_PAIRS, paths.M2_CURVES, paths.M2_EVALUATION)]
        deps += [m for stage in m2 for m in stage.metrics]
    if code:
        deps += [str(paths.CODE_SELECTIONS), str(paths.CODE_METRICS)]
    return Stage("report", "report/report",
                 ["task", *task_sections, "teachers", "students", "rationales", "exam", "selection",
                  *(["m2"] if m2 else []), *(["m3"] if m3 else [])],
                 deps=deps + (M3_REPORT_DEPS if m3 else []), html=str(paths.REPORT_HTML))


def _m3_report_stage(task_sections: list[str]) -> Stage:
    """The report of a task without M1 (classification): M3's section only."""
    return Stage("report", "report/m3", ["task", *task_sections, "teachers", "students", "m3"],
                 deps=M3_REPORT_DEPS, html=str(paths.REPORT_HTML))


# -- M2: teaching on the training split, pairs, DPO, evaluation ------------------------------------


def m2_stages(raw: dict, answers: list[str]) -> list[Stage]:
    """The teacher's rationales and its students' exams on the training split, then M2's own stages."""
    m2 = raw["m2"] or {}
    teacher, teachers, students = m2.get("teacher", "teacher"), raw.get("teachers") or {}, raw.get("students") or {}
    if teacher not in teachers:
        raise ParamsError(f"params.yaml: `m2.teacher` names {teacher!r}, which is not in `teachers`: use one of "
                          f"{', '.join(teachers)}.")
    model = teachers[teacher]
    if model_folder(model) is None:
        raise ParamsError(f"params.yaml: m2.teacher `{teacher}` is served by an API (backend "
                          f"{model.get('backend')}) and cannot be fine-tuned: set m2.teacher to a teacher with a "
                          "local model folder (backend hf or vllm).")
    chosen = m2.get("students") or list(students)
    unknown = [s for s in chosen if s not in students]
    if unknown:
        raise ParamsError(f"params.yaml: `m2.students` names {unknown[0]!r}, which is not in `students`.")
    train = "train"
    stages = [_rationales_stage(teacher, model, answers, split=train)]
    stages += [_exams_stage(teacher, s, students[s], answers, split=train) for s in chosen]
    stages.append(Stage(
        "m2_pairs", "m2/pairs", ["students", "m2.teacher", "m2.students", "m2.seeds", "m2.pairs"],
        deps=[str(paths.PROBLEMS), str(paths.rationales(teacher, train)),
              *(str(paths.exams(teacher, s, train)) for s in chosen)],
        outs=[str(paths.M2_PAIRS), str(paths.lbt_scores(train))], metrics=[str(paths.M2_PAIRS_METRICS)]))
    stages.append(Stage(
        "m2_train", "m2/train", [f"teachers.{teacher}", "m2.teacher", "m2.seeds", "m2.pairs", "m2.dpo"],
        deps=[str(paths.M2_PAIRS)], outs=[str(paths.M2_MODELS), str(paths.M2_CURVES), str(paths.M2_LIVE)],
        metrics=[str(paths.M2_TRAIN_METRICS)], plots=[str(paths.M2_CURVES_FIGURE)], models=[model]))
    stages.append(Stage(
        "m2_evaluate", "m2/evaluate",
        ["task", *answers, "seed", "cache_path", f"teachers.{teacher}", "m2.teacher", "m2.seeds", "m2.evaluate"],
        deps=[str(paths.PROBLEMS), str(paths.M2_MODELS)], outs=[str(paths.M2_EVALUATION)],
        metrics=[str(paths.M2_METRICS)], plots=[str(paths.M2_ACCURACY_FIGURE)], models=[model]))
    return stages


# -- code dependencies: the import graph ----------------------------------------------------------


def module_file(module: str) -> Path | None:
    """The source file of an lbt module, or None when it is not one."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(tree: ast.AST, module: str | None = None) -> set[str]:
    """The lbt modules a parsed file imports (inside functions too, except in DISPATCH modules)."""
    nodes = tree.body if module in DISPATCH else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "lbt"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "lbt":
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if module_file(f"{node.module}.{a.name}")}
    return {m for m in found if module_file(m)}


def closure(modules: set[str]) -> set[str]:
    """Every lbt module reached from `modules`, with the packages (`__init__`) on the way."""
    todo, seen = list(modules), set()
    while todo:
        module = todo.pop()
        if module in seen or module_file(module) is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += module_imports(module)
    return seen


@cache
def module_imports(module: str) -> frozenset[str]:
    """The lbt modules one module imports (parsed once per process)."""
    return frozenset(imported_modules(ast.parse(module_file(module).read_text()), module))


def notebook_imports(notebook: Path) -> set[str]:
    import json

    cells = json.loads(notebook.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return imported_modules(ast.parse(code))


def stage_modules(stage: Stage, task: str) -> set[str]:
    """The lbt modules a stage runs: runner, notebook imports, section schemas, task, backends."""
    if stage.command:  # a module run as a command (convert stages)
        roots = {stage.command[0]}
    elif not stage.notebook:  # the check stage
        roots = {"lbt.pipeline", *(m for s in SECTIONS for m in schema_modules(s))}
    else:
        roots = {RUNNER, *notebook_imports(ROOT / paths.NOTEBOOKS / f"{stage.notebook}.ipynb")}
        roots |= {m for r in stage.reads for m in schema_modules(r)}
    found = closure(roots)
    if "lbt.tasks.registry" in found:
        found |= closure({TASK_MODULES[task]})
    if "lbt.engines.registry" in found:
        found |= closure({BACKEND_MODULES[m.get("backend", "hf")] for m in stage.models})
        found |= closure({RAY_MODULES[m.get("backend", "hf")] for m in stage.models if m.get("ray") is not None})
    return found


def code_deps(modules: set[str]) -> list[str]:
    """The files of `modules`; a package without subpackages stands for all its files when every
    one is included, so each dependency names the file or its own folder."""
    files = {module_file(m).relative_to(ROOT).as_posix() for m in modules}
    return sorted(_compress(ROOT / "lbt", files))


def _compress(folder: Path, files: set[str]) -> set[str]:
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "__pycache__")
    inside = {p.relative_to(ROOT).as_posix() for p in folder.glob("*.py")}
    if not subfolders and inside and inside <= files:
        return {folder.relative_to(ROOT).as_posix()}
    out = {f for f in files if Path(f).parent == folder.relative_to(ROOT)}
    for sub in subfolders:
        out |= _compress(sub, {f for f in files if f.startswith(sub.relative_to(ROOT).as_posix() + "/")})
    return out


# -- dvc.yaml ------------------------------------------------------------------------------------


def model_folder(model: dict) -> str | None:
    """A local model's folder (a DVC dependency); API models have none."""
    return model.get("path") if model.get("backend", "hf") in ("hf", "vllm") else None


def dvc_stage(stage: Stage, task: str) -> dict:
    if stage.command:  # its arguments say everything it reads: no params, so no other key reruns it
        return {"cmd": shlex.join(["python", "-m", *stage.command]),
                "deps": [str(paths.PARAMS_CHECK), *code_deps(stage_modules(stage, task)), *stage.deps],
                "outs": list(stage.outs)}
    if not stage.notebook:
        # persist: DVC must not delete the stamp before a check that then fails, or every stage
        # after it would look changed until the next successful check.
        # Its code deps are recorded though it always runs (they say what validates params.yaml).
        return {"cmd": "python -m lbt.pipeline check", "always_changed": True,
                "deps": code_deps(stage_modules(stage, task)),
                "outs": [{str(paths.PARAMS_CHECK): {"cache": False, "persist": True}}]}
    notebook = (paths.NOTEBOOKS / f"{stage.notebook}.ipynb").as_posix()
    out = (paths.EXECUTED / f"{stage.name}.ipynb").as_posix()
    cmd = f"python -m lbt.stage {notebook} {out} --reads {','.join(stage.reads)}"
    cmd += "".join(f" -p {k}={v}" for k, v in stage.args.items())
    cmd += f" --html {stage.html}" if stage.html else ""
    folders = list(dict.fromkeys(f for f in map(model_folder, stage.models) if f))  # personas share a folder
    entry: dict[str, Any] = {
        "cmd": cmd,
        "deps": [str(paths.PARAMS_CHECK), notebook, *code_deps(stage_modules(stage, task)), *stage.deps, *folders],
        "params": list(stage.reads),
        "outs": [*stage.outs, out] + ([stage.html] if stage.html else []),
    }
    if stage.metrics:
        entry["metrics"] = [{m: {"cache": False}} for m in stage.metrics]
    if stage.plots:
        entry["plots"] = [{p: {"cache": False}} for p in stage.plots]
    return entry


def generate(params_path: Path = paths.PARAMS) -> str:
    """The text of dvc.yaml for the params file at `params_path`."""
    raw = yaml.safe_load(params_path.read_text()) or {}
    task = raw.get("task", "toy")
    stages = [Stage("check", "", [])] + stages_for(raw)
    _require_sections(stages, raw, params_path)
    body = {"stages": {s.name: dvc_stage(s, task) for s in stages}}
    return HEADER + yaml.safe_dump(body, sort_keys=False, width=1000)


def _require_sections(stages: list[Stage], raw: dict, source: Path) -> None:
    for stage in stages:
        for dotted in stage.reads:
            if lookup(raw, dotted) is MISSING:
                raise ParamsError(f"{source}: `{dotted}` is missing, and stage {stage.name} reads it: add it "
                                  "(the README lists every section).")


def unused_sections(raw: dict) -> list[str]:
    """Top-level sections of the params file that no stage reads."""
    read = {r.split(".")[0] for s in stages_for(raw) for r in s.reads}
    return sorted(set(raw) - read)


# -- commands -------------------------------------------------------------------------------------


def check(params_path: Path = paths.PARAMS, dvc_yaml: Path = paths.DVC_YAML) -> None:
    """Validate every key of the params file and that dvc.yaml was generated from it."""
    params = load_params(params_path)  # all sections, every key
    _check_toy_students(params, params_path)
    if not dvc_yaml.is_file() or dvc_yaml.read_text() != generate(params_path):
        raise ParamsError(f"{dvc_yaml} is out of date with {params_path} (task, teachers or students changed?): "
                          "run `python -m lbt.pipeline`, then `dvc repro` again.")
    unused = unused_sections(yaml.safe_load(params_path.read_text()) or {})
    if unused:
        print(f"note: no stage reads the section(s) {', '.join(unused)} of {params_path}.", file=sys.stderr)
    paths.PARAMS_CHECK.parent.mkdir(parents=True, exist_ok=True)
    paths.PARAMS_CHECK.write_text('{"params": "valid", "dvc_yaml": "current"}\n')


def _check_toy_students(params, source: Path) -> None:
    """Students that run the toy student model must name one of its personas (see lbt.toy.config)."""
    if not (params.has("task") and params.task == "toy" and params.has("toy") and params.has("students")):
        return
    from lbt.toy.config import check_persona_students

    try:
        check_persona_students(params.toy.student, params.students, str(paths.toy_model("student")))
    except ValueError as err:
        raise ParamsError(f"{source}: {err}.") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lbt.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["write", "check"], default="write")
    parser.add_argument("--params", type=Path, default=paths.PARAMS)
    parser.add_argument("--list", action="store_true", help="list the stages, what they read and import")
    args = parser.parse_args(argv)
    try:
        if args.list:
            _print_stages(args.params)
        elif args.command == "check":
            check(args.params)
        else:
            paths.DVC_YAML.write_text(generate(args.params))
            print(f"wrote {paths.DVC_YAML} from {args.params}")
    except ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _print_stages(params_path: Path) -> None:
    raw = yaml.safe_load(params_path.read_text()) or {}
    for stage in stages_for(raw):
        runs = shlex.join(["python", "-m", *stage.command]) if stage.command else f"notebooks/{stage.notebook}.ipynb"
        print(f"{stage.name}: {runs}")
        print(f"    reads   {', '.join(stage.reads)}")
        print(f"    imports {', '.join(code_deps(stage_modules(stage, raw.get('task', 'toy'))))}")


if __name__ == "__main__":
    sys.exit(main())
