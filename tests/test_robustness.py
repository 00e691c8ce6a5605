"""The README's robustness figures are the robustness run's: the block is printed from
`reports/robustness/claims.json`, and that file is what the kept run files give."""

import json
import re
from pathlib import Path

import pytest
import yaml

from lbt import robustness

REPO = Path(__file__).resolve().parents[1]
CLAIMS = REPO / robustness.OUT / "claims.json"
pytestmark = pytest.mark.skipif(not CLAIMS.exists(), reason="no robustness run committed yet")


def _documents() -> dict[Path, str]:
    return {p: p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))] if p.exists()}


def test_the_quoted_block_is_printed_from_the_claims_file():
    result = json.loads(CLAIMS.read_text())
    quoted = [text for text in _documents().values() if robustness.BLOCK_START in text]
    assert quoted, "README.md or a page of docs/ must quote the robustness block"
    for text in quoted:
        block = robustness.BLOCK_START + text.split(robustness.BLOCK_START, 1)[1].split(robustness.BLOCK_END, 1)[0]
        assert block + robustness.BLOCK_END == robustness.readme_block(result), (
            "the robustness figures quoted differ from reports/robustness/claims.json: "
            "rerun `python scripts/robustness.py --summarise`")


def test_the_claims_file_is_what_the_kept_runs_give():
    runs, control = robustness.load_runs(REPO / robustness.RUNS)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    sweep_file = REPO / robustness.TRAINING_SWEEP
    sweep = json.loads(sweep_file.read_text()) if sweep_file.exists() else None
    assert robustness.summary(runs, control, params, sweep) == json.loads(CLAIMS.read_text())


def test_the_quick_start_s_minutes_are_the_runs_mean_wall_time():
    readme = (REPO / "README.md").read_text()
    quoted = re.search(r"about (\d+)\s+minutes of `dvc repro`", readme)
    assert quoted, "the README's quick start must say how long `dvc repro` takes"
    mean_s = json.loads(CLAIMS.read_text())["repro_wall_s"]["mean"]
    assert abs(int(quoted.group(1)) - mean_s / 60) <= 1, (
        f"the quick start says about {quoted.group(1)} minutes, the robustness runs took {mean_s} s on average")
