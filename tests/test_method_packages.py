"""A method is one package: a throwaway package under lbt/methods (and its notebook) shows up in the
generated dvc.yaml, with its stage, its params section and its report input, and nothing else edited."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

PACKAGE = {
    "__init__.py": '"""M9: a throwaway method."""\n\nSECTIONS = {"m9": "lbt.methods.m9.config:M9Params"}\n',
    "config.py": ("from pydantic import Field\n\nfrom lbt.schema import StrictModel\n\n\n"
                  "class M9Params(StrictModel):\n    votes: int = Field(3, ge=1)\n"),
    "dag.py": ("from lbt import paths\nfrom lbt.config import Params\nfrom lbt.dag import Stage\n\n\n"
               "def stages(params: Params) -> list[Stage]:\n"
               "    if not params.has('m9'):\n        return []\n"
               "    out = 'data/m9/votes.parquet'\n"
               "    return [Stage('m9_vote', 'm9/vote', ['task', 'm9'], deps=[str(paths.rationales('teacher'))],\n"
               "                  outs=[out], reported=[out])]\n"),
}
NOTEBOOK = {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                       "source": ["from lbt.methods.m9.config import M9Params\n", "from lbt.notebook import start"]}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _project(root: Path, m9: dict | None) -> Path:
    shutil.copytree(REPO / "lbt", root / "lbt", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    for name, text in PACKAGE.items():
        (root / "lbt" / "methods" / "m9").mkdir(exist_ok=True)
        (root / "lbt" / "methods" / "m9" / name).write_text(text)
    (root / "notebooks" / "m9").mkdir()
    (root / "notebooks" / "m9" / "vote.ipynb").write_text(json.dumps(NOTEBOOK))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    if m9 is not None:
        params["m9"] = m9
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def _pipeline(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m lbt.pipeline` in the copy (it imports the copy's lbt: `-m` puts the folder first)."""
    return subprocess.run([sys.executable, "-m", "lbt.pipeline", *args], cwd=root, capture_output=True, text=True,
                          timeout=300)


def test_a_new_method_package_adds_its_stage_section_and_report_input(tmp_path):
    root = _project(tmp_path / "with", {"votes": 5})
    assert _pipeline(root).returncode == 0
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    stage = stages["m9_vote"]
    assert stage["cmd"].startswith("python -m lbt.stage notebooks/m9/vote.ipynb reports/notebooks/m9_vote.ipynb")
    assert stage["params"] == ["task", "m9"]
    assert {"notebooks/m9/vote.ipynb", "lbt/methods/m9/config.py", "data/teaching/eval/rationales/teacher.parquet"} \
        <= set(stage["deps"])
    assert "data/m9/votes.parquet" in stages["report"]["deps"] and "m9" in stages["report"]["params"]
    check = _pipeline(root, "check")
    assert check.returncode == 0, check.stderr


def test_its_section_is_validated_by_its_own_schema(tmp_path):
    root = _project(tmp_path / "typo", {"votes": 5})
    assert _pipeline(root).returncode == 0
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["m9"] = {"vots": 5}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    check = _pipeline(root, "check")
    assert check.returncode == 2 and "unknown key `m9.vots`" in check.stderr


def test_without_its_section_the_method_adds_no_stage(tmp_path):
    """Only the check stage, which runs every method's `stages`, depends on the package then."""
    root = _project(tmp_path / "without", None)
    assert _pipeline(root).returncode == 0
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    committed = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert {k: v for k, v in stages.items() if k != "check"} == {k: v for k, v in committed.items() if k != "check"}
    assert "lbt/methods/m9" in stages["check"]["deps"]
