"""M3 on the real Liar data through `dvc repro` (stages prepare, m3, report), with the teacher and
two students behind the `openai` backend. The models are a test double: a local fake
OpenAI-compatible server (tests/openai_fake_server.py) standing in for instruction models,
because none can run here. It answers items Yes/No, writes a reflection, and writes revised
exemplar sets in the requested format, or, for some proposals, text that cannot be parsed. Data,
prompts, parsing, balancing, selection, tables, metrics and report are real."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import polars as pl
import pytest
import yaml
from openai_fake_server import FakeOpenAIServer
from test_pipeline_e2e import copy_project, ran_stages, run

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets absent")]
MICRO = {"beam": 2, "exemplars": 4, "iterations": 2, "minibatch": 8, "reflections": 2, "failures": 2, "proposals": 2,
         "children": 2, "score_sample": 8, "heldout": 20, "runs": 2}


def _digest(*parts: object) -> int:
    return int(hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest(), 16)


def instruction_model(body: dict) -> str:
    """What the fake server says: a label for an item, a reflection, or a revised set."""
    prompt = body["messages"][-1]["content"]
    if "Why might these examples have misled" in prompt:
        return "The examples are all short; the students took the party of the speaker as the label."
    if "Write a better set of exactly" in prompt:
        kind = _digest(prompt, body.get("seed")) % 4
        if kind == 0:
            return "I am not able to write these examples."  # unparsable: dropped and counted
        texts = re.findall(r"<text>(.*?)</text>", prompt, re.DOTALL)
        labels = ["Yes", "No"] * 2 if kind != 1 else ["Yes"]  # kind 1: too few exemplars
        return "\n".join(f"<example><text>{t} (revised {kind})</text><label>{label}</label></example>"
                         for t, label in zip(texts, labels))
    return ["Yes", "No."][_digest(body["model"], prompt) % 2]


@pytest.fixture(scope="module")
def liar_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("lbt-m3-liar")
    copy_project(root)
    params = yaml.safe_load((REPO / "params" / "m3-liar.yaml").read_text())
    with FakeOpenAIServer(text_for=instruction_model) as server:
        for section in ("teachers", "students"):
            for model in params[section].values():
                model.update(base_urls=[server.v1_url], max_concurrency=8)
        params["classify"]["raw_dir"] = str(DATASETS)
        params["m3"].update(MICRO)
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        run(root, "python", "-m", "lbt.pipeline")
        for cmd in (("git", "init", "-q", "-b", "main"), ("git", "add", "-A"), ("git", "commit", "-qm", "liar")):
            run(root, *cmd)
        first = run(root, "dvc", "repro")
        again = run(root, "dvc", "repro", "--force", "--single-item", "m3")
    return root, first, again


def test_m3_runs_on_liar_with_all_three_settings(liar_project):
    root, first, _ = liar_project
    assert ran_stages(first) == {"check", "prepare", "m3", "report"}  # no M1 stages for a classification task
    metrics = json.loads((root / "reports" / "metrics" / "m3.json").read_text())
    assert metrics["metric"] == "f1" and metrics["heldout_items"] == 20
    assert set(metrics["heldout"]) == {"llama3-70b", "llama3-8b", "llama3-8b+mistral-7b"}
    assert all(set(v) == {"0", "1", "2"} for v in metrics["heldout"].values())
    assert {"ok", "unparsable", "too_few"} <= set(metrics["proposals"])
    sets = pl.read_parquet(root / "data" / "m3" / "sets.parquet")
    labels = sets.select(pl.col("rationales").list.eval(pl.element() == "Yes").list.sum())["rationales"]
    assert labels.to_list() == [2] * sets.height  # every set balanced: 2 of each class
    assert sets.filter(pl.col("origin") == "proposal").height > 0
    failures = pl.read_parquet(root / "data" / "m3" / "failures.parquet")
    several = failures.filter(pl.col("setting") == "llama3-8b+mistral-7b")
    assert set(several["student"]) == {"llama3-8b", "mistral-7b"}  # pooled over both students
    html = (root / "reports" / "report.html").read_text()
    assert "cf. the paper&#39;s Table 5" in html or "cf. the paper's Table 5" in html
    assert "the students took the party of the speaker" in html  # a reflection beside its failures


def test_rerun_generates_nothing(liar_project):
    root, _, again = liar_project
    assert ran_stages(again) == {"m3"}
    metrics = json.loads((root / "reports" / "metrics" / "m3.json").read_text())
    assert {m: g["generated"] for m, g in metrics["generations"].items()} == {
        "llama3-70b": 0, "llama3-8b": 0, "mistral-7b": 0}
