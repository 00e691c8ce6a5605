"""The DVC pipeline, generated from params.yaml so that its graph tells the truth.

Each room declares its own stages (`stages(params)` in its `dag` module: the toy training, the
teaching core, every method package under lbt/methods, the report); this module composes them
on the validated params and writes them out. Each stage depends on exactly the code it imports (the import graph of its notebook and of
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
import importlib
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from lbt import paths
from lbt.config import (MISSING, SECTIONS, Params, ParamsError, load_params, lookup, method_packages,
                        method_sections, schema_modules)
from lbt.dag import Stage, model_folder
from lbt.engines.gguf import GGUFSourceError, resolve_gguf
from lbt.imports import ROOT, code_deps, stage_modules
from lbt.report import dag as report
from lbt.tasks.registry import TASKS
from lbt.teaching import dag as teaching
from lbt.toy import dag as toy

HEADER = "# Generated from params.yaml by `python -m lbt.pipeline`: edit params.yaml and rerun that, not this file.\n"
GGUF_MODULE = "lbt.engines.gguf"  # the convert stages' command


# -- the stages of a params file ----------------------------------------------------------------


def method_dag(package: str):
    """A method package's `dag` module (its `stages(params)`)."""
    return importlib.import_module(f"lbt.methods.{package}.dag")


def stages_for(params: Params) -> list[Stage]:
    """Problems, converted models, toy models, the teaching core, each method's stages, the report."""
    spec = TASKS[params.task]
    stages = [Stage("prepare", "tasks/prepare", ["task", *spec.problems], outs=[str(paths.PROBLEMS)])]
    stages += convert_stages(params) + toy.stages(params) + teaching.stages(params)
    ran = []
    for package in method_packages():
        found = method_dag(package).stages(params)
        stages += found
        ran += list(method_sections(package)) if found else []
    return stages + [report.stage(params, stages, ran)]


def convert_stages(params: Params) -> list[Stage]:
    """One `convert-<folder>` stage per model folder built from a GGUF file (`gguf:` in a model entry)."""
    sources: dict[str, tuple[str, str]] = {}  # folder -> (gguf source, the key that names it)
    for section in ("teachers", "students"):
        for name, model in (getattr(params, section) if params.has(section) else {}).items():
            if not getattr(model, "gguf", None):
                continue
            key, folder = f"{section}.{name}.gguf", model.path
            if sources.setdefault(folder, (model.gguf, key))[0] != model.gguf:
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


# -- dvc.yaml ------------------------------------------------------------------------------------


def dvc_stage(stage: Stage, params: Params) -> dict:
    if stage.command:  # its arguments say everything it reads: no params, so no other key reruns it
        return {"cmd": shlex.join(["python", "-m", *stage.command]),
                "deps": [str(paths.PARAMS_CHECK), *code_deps(_modules(stage, params)), *stage.deps],
                "outs": list(stage.outs)}
    if not stage.notebook:
        # persist: DVC must not delete the stamp before a check that then fails, or every stage
        # after it would look changed until the next successful check.
        # Its code deps are recorded though it always runs (they say what validates params.yaml).
        return {"cmd": "python -m lbt.pipeline check", "always_changed": True,
                "deps": code_deps(_modules(stage, params)),
                "outs": [{str(paths.PARAMS_CHECK): {"cache": False, "persist": True}}]}
    notebook = (paths.NOTEBOOKS / f"{stage.notebook}.ipynb").as_posix()
    out = (paths.EXECUTED / f"{stage.name}.ipynb").as_posix()
    cmd = f"python -m lbt.stage {notebook} {out} --reads {','.join(stage.reads)}"
    cmd += "".join(f" -p {k}={v}" for k, v in stage.args.items())
    cmd += f" --html {stage.html}" if stage.html else ""
    folders = list(dict.fromkeys(f for f in map(model_folder, stage.models) if f))  # personas share a folder
    entry: dict[str, Any] = {
        "cmd": cmd,
        "deps": [str(paths.PARAMS_CHECK), notebook, *code_deps(_modules(stage, params)), *stage.deps, *folders],
        "params": list(stage.reads),
        "outs": [*stage.outs, out] + ([stage.html] if stage.html else []),
    }
    if stage.metrics:
        entry["metrics"] = [{m: {"cache": False}} for m in stage.metrics]
    if stage.plots:
        entry["plots"] = [{p: {"cache": False}} for p in stage.plots]
    return entry


def _modules(stage: Stage, params: Params) -> set[str]:
    """What a stage runs; the check stage runs this module, every section's schema and every method's stages."""
    if stage.command:
        return stage_modules(stage, params, {stage.command[0]})
    if not stage.notebook:
        methods = {f"lbt.methods.{p}.dag" for p in method_packages()}
        return stage_modules(stage, params, {"lbt.pipeline", *methods, *(m for s in SECTIONS for m in schema_modules(s))})
    return stage_modules(stage, params)


def generate(params_path: Path = paths.PARAMS) -> str:
    """The text of dvc.yaml for the params file at `params_path` (every key of it validated)."""
    params, raw = load_params(params_path), yaml.safe_load(params_path.read_text()) or {}
    if not params.has("task"):
        raise ParamsError(f"{params_path}: `task` is missing: add it (one of {', '.join(TASKS)}).")
    stages = [Stage("check", "", [])] + stages_for(params)
    _require_sections(stages, raw, params_path)
    body = {"stages": {s.name: dvc_stage(s, params) for s in stages}}
    return HEADER + yaml.safe_dump(body, sort_keys=False, width=1000)


def _require_sections(stages: list[Stage], raw: dict, source: Path) -> None:
    for stage in stages:
        for dotted in stage.reads:
            if lookup(raw, dotted) is MISSING:
                raise ParamsError(f"{source}: `{dotted}` is missing, and stage {stage.name} reads it: add it "
                                  "(the README lists every section).")


def unused_sections(params_path: Path) -> list[str]:
    """Top-level sections of the params file that no stage reads."""
    params = load_params(params_path)
    read = {r.split(".")[0] for s in stages_for(params) for r in s.reads}
    return sorted(set(yaml.safe_load(params_path.read_text()) or {}) - read)


# -- commands -------------------------------------------------------------------------------------


def check(params_path: Path = paths.PARAMS, dvc_yaml: Path = paths.DVC_YAML) -> None:
    """Validate every key of the params file and that dvc.yaml was generated from it."""
    if not dvc_yaml.is_file() or dvc_yaml.read_text() != generate(params_path):
        raise ParamsError(f"{dvc_yaml} is out of date with {params_path} (task, teachers or students changed?): "
                          "run `python -m lbt.pipeline`, then `dvc repro` again.")
    unused = unused_sections(params_path)
    if unused:
        print(f"note: no stage reads the section(s) {', '.join(unused)} of {params_path}.", file=sys.stderr)
    paths.PARAMS_CHECK.parent.mkdir(parents=True, exist_ok=True)
    paths.PARAMS_CHECK.write_text('{"params": "valid", "dvc_yaml": "current"}\n')


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
    params = load_params(params_path)
    for stage in stages_for(params):
        runs = shlex.join(["python", "-m", *stage.command]) if stage.command else f"notebooks/{stage.notebook}.ipynb"
        print(f"{stage.name}: {runs}")
        print(f"    reads   {', '.join(stage.reads)}")
        print(f"    imports {', '.join(code_deps(_modules(stage, params)))}")


if __name__ == "__main__":
    sys.exit(main())
