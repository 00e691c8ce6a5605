"""The math pipeline on the real MATH500 / MATH() data, through `dvc repro`, with both models
behind the `openai` backend. The models are a test double: a local fake OpenAI-compatible
server (tests/openai_fake_server.py) that answers in the paper's `[[Final Answer]]` format,
because no real model can run here. Everything else is real: data, prompts, grading,
grouping, scores, selection, report. A planted API key must appear in no output.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

import pytest
import yaml
from openai_fake_server import FakeOpenAIServer
from test_pipeline_e2e import copy_project, ran_stages, run

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
KEY = f"sk-test-PLANTED-{secrets.token_hex(12)}"  # made at run time: no file holds it
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets absent")]


def math_answer(body: dict) -> str:
    """A reply in the paper's format whose answer varies with the sample's seed, so TRs of one
    TP disagree, exams get graded, and some answers are equal in value but not in string."""
    digest = int(hashlib.sha256(f"{body.get('seed')}{body.get('messages')}".encode()).hexdigest(), 16)
    answer = ["2", "3", "\\frac{1}{2}", "0.5", "\\dfrac12", "7", "x+1"][digest % 7]
    if digest % 11 == 0:
        return "I am not sure how to finish this one."  # no answer: counted wrong, never a crash
    return f"We compute step by step and simplify.\n\n[[Final Answer]]:\n${answer}$"


@pytest.fixture(scope="module")
def math_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("lbt-math")
    copy_project(root)
    params = yaml.safe_load((REPO / "params" / "math-table2.yaml").read_text())
    with FakeOpenAIServer(api_key=KEY, text_for=math_answer) as server:
        fake = {"backend": "openai", "chat": True, "base_urls": [server.v1_url], "api_key_env": "LBT_TEST_KEY",
                "max_concurrency": 16}
        params.update(
            math={"raw_dir": str(DATASETS), "grouping": "equivalence", "prompt": {}, "grading": {"workers": 2}},
            teachers={"fake-teacher": {**fake, "model": "fake-teacher"}},
            students={"fake-student": {**fake, "model": "fake-student"}},
        )
        params["rationales"].update(num_rationales=2, max_tokens=64)
        params["exam"].update(repeats=1, max_tokens=64)
        params["selection"].update(resample_sizes=[1, 2], resample_trials=3)
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        run(root, "python", "-m", "lbt.pipeline")  # the grid changed: regenerate dvc.yaml
        for cmd in (("git", "init", "-q", "-b", "main"), ("git", "add", "-A"), ("git", "commit", "-qm", "math")):
            run(root, *cmd)
        os.environ["LBT_TEST_KEY"] = KEY
        try:
            proc = run(root, "dvc", "repro")
        finally:
            del os.environ["LBT_TEST_KEY"]
        served = len(server.successes())
    return root, proc, served


def test_math_pipeline_runs_on_real_data(math_project):
    root, proc, served = math_project
    assert ran_stages(proc) == {"check", "prepare", "rationales-fake-teacher", "exams-fake-teacher__fake-student",
                                "scores", "select", "report"}  # no toy training for the math task
    problems = __import__("polars").read_parquet(root / "data" / "problems.parquet")
    assert dict(problems.group_by("role").len().iter_rows()) == {"tp": 181, "ep": 543, "train": 1564, "train_ep": 4692}
    metrics = json.loads((root / "reports" / "metrics" / "selection.json").read_text())
    by_grouping = metrics["accuracy_by_grouping"]
    assert set(by_grouping) == {"equivalence", "exact", "normalized"}
    assert set(by_grouping["exact"]["fake-teacher"]["fake-student"]) == {"greedy", "sc", "m1_max", "m1_sum", "m1_avg"}
    rationales = json.loads((root / "reports" / "metrics" / "rationales_eval_fake-teacher.json").read_text())
    assert rationales["generations"]["requested"] == 181 * 3
    assert 0 < rationales["no_answer_rate"] < 0.3
    assert served >= rationales["generations"]["generated"]
    breakdown = __import__("polars").read_parquet(root / "data" / "m1" / "breakdown.parquet")
    assert set(breakdown["column"]) == {"level", "subject"}
    assert "By level" in (root / "reports" / "report.html").read_text()
    assert not (root / "data" / "models").exists()  # no toy model was trained


def test_planted_api_key_is_written_nowhere(math_project):
    root, proc, _ = math_project
    assert KEY not in proc.stdout + proc.stderr
    leaks = [p for p in root.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert leaks == []
    assert (root / ".cache" / "lbt" / "generations.sqlite").stat().st_size > 0  # the cache was scanned too
