"""params/smollm2-math.yaml through `dvc repro` in a temp copy, at micro size: a real model
(SmolLM2-135M-Instruct, converted from its GGUF file by the pipeline's own stage), real MATH data,
2 TPs, 2 short TRs each, one EP per TR. Then a forced rerun of the exams generates nothing."""

from __future__ import annotations

import json

import polars as pl
import pytest
from real_models import needs_smollm2
import yaml
from test_pipeline_e2e import REPO, copy_project, ran_stages, run

DATASETS = REPO.parent / "shared" / "datasets"


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets absent"),
    needs_smollm2,
]
MICRO = {"math": {"max_tps": 2}, "rationales": {"num_rationales": 2, "max_tokens": 24},
         "exam": {"max_eps": 1, "max_tokens": 24}, "selection": {"resample_sizes": [1, 2], "resample_trials": 3}}
FOLDER = "data/models/smollm2-135m-instruct"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("lbt-smollm2")
    copy_project(root)
    params = yaml.safe_load((REPO / "params" / "smollm2-math.yaml").read_text())
    for section, values in MICRO.items():
        params[section].update(values)
    params["math"]["raw_dir"] = str(DATASETS)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(root, "python", "-m", "lbt.pipeline")
    for cmd in (("git", "init", "-q", "-b", "main"), ("git", "add", "-A"), ("git", "commit", "-qm", "smollm2")):
        run(root, *cmd)
    return root, run(root, "dvc", "repro")


def _metrics(root, name: str) -> dict:
    return json.loads((root / "reports" / "metrics" / f"{name}.json").read_text())


def test_the_smollm2_pipeline_converts_the_model_once_and_runs_every_stage(project):
    root, proc = project
    assert ran_stages(proc) == {"check", "prepare", "convert-smollm2-135m-instruct", "rationales-smollm2",
                                "exams-smollm2__smollm2", "scores", "select", "report"}
    assert (root / FOLDER / "model.safetensors").is_file()
    rationales = pl.read_parquet(root / "data" / "teaching" / "eval" / "rationales" / "smollm2.parquet")
    assert rationales.height == 2 * 2 and (rationales["n_tokens"] > 0).all()
    assert rationales["text"].str.len_chars().min() > 0  # real text, cut at 24 tokens
    exams = _metrics(root, "exams_eval_smollm2__smollm2")
    assert exams["generations"]["generated"] >= 1
    accuracy = _metrics(root, "selection")["accuracy"]["smollm2"]["smollm2"]
    assert set(accuracy) == {"greedy", "sc", "m1_max", "m1_sum", "m1_avg"}
    assert all(0 <= v <= 1 for v in accuracy.values())
    assert "M1-MAX" in (root / "reports" / "report.html").read_text()


def test_a_rerun_reuses_the_converted_folder_and_the_cache(project):
    root, _ = project
    assert ran_stages(run(root, "dvc", "repro")) == {"check"}
    forced = run(root, "dvc", "repro", "-f", "-s", "exams-smollm2__smollm2")
    assert ran_stages(forced) == {"exams-smollm2__smollm2"}
    generations = _metrics(root, "exams_eval_smollm2__smollm2")["generations"]
    assert generations["generated"] == 0 and generations["from_cache"] >= 1
