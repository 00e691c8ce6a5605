"""The generated DVC graph tells the truth: code deps follow the import graph, params deps the
sections each stage declares, model deps the folders of the models it runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lbt.imports import ROOT, closure, module_file, notebook_imports
from lbt.pipeline import generate

PARAMS = ROOT / "params.yaml"
MATH_PARAMS = ROOT / "params" / "math-table2.yaml"


def _dvc(path: Path) -> dict:
    return yaml.safe_load(generate(path))["stages"]


def _covers(deps: list[str], file: str) -> bool:
    return any(file == d or file.startswith(d.rstrip("/") + "/") for d in deps)


def stages_importing(stages: dict, file: str) -> set[str]:
    return {name for name, s in stages.items() if _covers(s.get("deps", []), file)}


def test_committed_dvc_yaml_is_generated_from_params_yaml():
    assert (ROOT / "dvc.yaml").read_text() == generate(PARAMS), "run `python -m lbt.pipeline`"


def test_model_training_never_depends_on_selection_report_or_math_code():
    stages = _dvc(PARAMS)
    for file in ["lbt/methods/m1/select.py", "lbt/methods/m1/analysis.py", "lbt/report/m1.py",
                 "lbt/teaching/exams.py", "lbt/tasks/math/grade.py", "lbt/engines/hf.py"]:
        assert not {"train_toy", "prepare"} & stages_importing(stages, file), file
    assert stages_importing(stages, "lbt/report/m1.py") == {"report"}
    assert stages_importing(stages, "lbt/methods/m1/select.py") == {"select"}
    # the toy task never grades math (only `check`, which validates every section, imports it)
    assert stages_importing(stages, "lbt/tasks/math/grade.py") == {"check"}


def test_the_report_imports_no_stage_module_and_not_the_sandbox():
    """The report reads the stages' outputs: a change to a stage's code reruns the stage, and the
    report only when the outputs change."""
    for params in (PARAMS, ROOT / "params" / "toy-code.yaml"):
        deps = _dvc(params)["report"]["deps"]
        stage_modules = [*(p.relative_to(ROOT).as_posix() for p in (ROOT / "lbt").rglob("stages.py")),
                         "lbt/methods/m1/adaptive_stage.py", "lbt/methods/m1/code.py"]
        assert not [m for m in stage_modules if _covers(deps, m)], params.name
    assert not _covers(_dvc(PARAMS)["report"]["deps"], "lbt/sandbox/run.py")


def test_each_teaching_stage_depends_on_its_own_model_folder_and_params():
    stages = _dvc(PARAMS)
    assert "data/models/teacher" in stages["rationales-teacher"]["deps"]
    assert "data/models/student" not in stages["rationales-teacher"]["deps"]
    assert "data/models/student" in stages["exams-teacher__alice"]["deps"]
    assert "teachers.teacher" in stages["rationales-teacher"]["params"]
    assert "students.alice" in stages["exams-teacher__alice"]["params"]
    assert "students.alice" not in stages["exams-teacher__bob"]["params"]


def test_models_on_ray_add_the_ray_modules_to_the_stages_that_generate():
    on_ray, default = _dvc(ROOT / "params" / "toy-ray.yaml"), _dvc(PARAMS)
    for file in ("lbt/engines/ray_pool.py", "lbt/engines/ray_dispatch.py", "lbt/engines/ray_cluster.py"):
        assert stages_importing(default, file) == set(), file
        assert {"rationales-teacher", "exams-teacher__alice", "adaptive", "exams_train-teacher__bob",
                "m3"} <= stages_importing(on_ray, file), file
    assert not {"train_toy", "prepare", "select", "report"} & stages_importing(on_ray, "lbt/engines/ray_pool.py")
    assert stages_importing(on_ray, "lbt/engines/ray_vllm.py") == set()  # no vllm model here


def test_a_math_params_file_without_a_toy_section_builds_the_math_grid():
    raw = yaml.safe_load(MATH_PARAMS.read_text())
    assert "toy" not in raw
    stages = _dvc(MATH_PARAMS)
    assert not any(name.startswith("train_") for name in stages)
    assert {n for n in stages if n.startswith(("rationales-", "exams-"))} == {
        "rationales-llama3-8b", "rationales-mistral-7b",
        *(f"exams-{t}__{s}" for t in ("llama3-8b", "mistral-7b") for s in ("llama3-8b", "mistral-7b", "gpt-4o-mini"))}
    assert "/models/Meta-Llama-3-8B-Instruct" in stages["rationales-llama3-8b"]["deps"]
    api_deps = stages["exams-llama3-8b__gpt-4o-mini"]["deps"]
    assert not any(d.startswith("/models") for d in api_deps)  # an API model has no folder
    assert _covers(api_deps, "lbt/engines/openai.py") and not _covers(api_deps, "lbt/engines/vllm.py")
    assert _covers(stages["select"]["deps"], "lbt/tasks/math/group.py")
    assert not any("toy" in p for s in stages.values() for p in s.get("params", []))


def test_a_section_a_stage_reads_must_be_in_the_params_file(tmp_path):
    raw = yaml.safe_load(PARAMS.read_text())
    del raw["selection"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(Exception, match="`selection` is missing, and stage select reads it"):
        generate(tmp_path / "params.yaml")


@pytest.mark.parametrize("notebook", sorted(p.relative_to(ROOT / "notebooks").as_posix()
                                             for p in (ROOT / "notebooks").rglob("*.ipynb")))
def test_what_a_notebook_imports_is_in_its_static_closure(notebook):
    """Import the notebook's modules in a fresh process: every lbt module loaded is in the graph
    (a subset: what the stages load when they run, the slow end-to-end test checks for equality)."""
    modules = sorted(notebook_imports(ROOT / "notebooks" / notebook))
    code = ("import importlib, json, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m == 'lbt' or m.startswith('lbt.'))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                       check=True).stdout)
    static = closure(set(modules))
    assert set(loaded) <= static, set(loaded) - static
    assert all(module_file(m) for m in loaded)


TOY_CODE_PARAMS = ROOT / "params" / "toy-code.yaml"
CODE_PARAMS = ROOT / "params" / "code-paper.yaml"


def test_code_params_files_build_the_code_grid_with_self_debugged_models():
    toy = _dvc(TOY_CODE_PARAMS)
    assert toy["train_toy"]["cmd"].startswith("python -m lbt.stage notebooks/toy/train_code.ipynb")
    assert {"exams-teacher__student", "exams-teacher+debug__student", "select_code"} <= set(toy)
    assert "data/teaching/eval/rationales/teacher+debug.parquet" in toy["rationales-teacher"]["outs"]
    assert "data/teaching/eval/exams/teacher+debug__student+debug.parquet" in toy["exams-teacher+debug__student"]["outs"]
    assert "data/teaching/eval/exams/teacher+debug__student+debug.parquet" in toy["scores"]["deps"]
    assert "self_debug" in toy["scores"]["params"] and _covers(toy["select_code"]["deps"], "lbt/sandbox/run.py")
    paper = _dvc(CODE_PARAMS)
    assert not any(name.startswith("train_") for name in paper) and "select_code" in paper
    assert _covers(paper["rationales-llama3-8b"]["deps"], "lbt/tasks/code/tested.py")
    assert not _covers(_dvc(PARAMS)["rationales-teacher"]["deps"], "lbt/tasks/code/tested.py")
    assert "select_code" not in _dvc(PARAMS)


def test_self_debugging_a_task_without_feedback_stops_with_one_sentence(tmp_path):
    raw = yaml.safe_load(PARAMS.read_text())
    raw["self_debug"] = {"teacher": True, "student": False}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(Exception, match="`self_debug`: the toy task gives no feedback"):
        generate(tmp_path / "params.yaml")
