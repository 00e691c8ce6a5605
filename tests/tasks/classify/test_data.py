"""Liar and Logical Fallacy on the real rows (../shared/datasets): counts as MANIFEST.md gives
them, the binary casting, prompts and answer reading."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from lbt.tasks.base import Demo
from lbt.tasks.classify import ClassifyTask
from lbt.tasks.classify.config import ClassifyParams
from tests.conftest import DATASETS

pytestmark = pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets absent")


def _problems(dataset: str, raw_dir=DATASETS) -> pl.DataFrame:
    return ClassifyTask(ClassifyParams(dataset=dataset, raw_dir=str(raw_dir))).load_problems()


def _counts(problems: pl.DataFrame) -> dict:
    return {
        (r, a): n for r, a, n in problems.group_by("role", "answer").len().iter_rows()}


def test_liar_counts_and_casting():
    problems = _problems("liar")
    assert dict(problems.group_by("role").len().iter_rows()) == {"train": 3681, "tp": 461}
    assert set(problems["answer"]) == {"0", "1"}
    first = problems.row(0, named=True)  # ProTeGi's first training row: a false statement
    assert first["answer"] == "1" and first["solution"] == "Yes"
    assert first["question"].startswith("Statement: Says the Annies List political group")
    assert problems["problem_id"].n_unique() == problems.height


def test_fallacy_counts_casting_and_cut():
    problems = _problems("fallacy")
    assert dict(problems.group_by("role").len().iter_rows()) == {"train": 2680, "tp": 570 + 511}
    counts = _counts(problems)
    assert counts[("train", "1")] == 401 and counts[("tp", "1")] == 84 + 89  # faulty generalization
    assert problems["question"].str.len_chars().max() == 700
    assert problems["question"].str.strip_chars().str.len_chars().min() > 0
    assert set(problems["source"]) == {f"{s}_{p}" for s in ("edu", "climate") for p in ("train", "dev", "test")}


def test_a_changed_raw_file_stops_with_its_name(tmp_path):
    shutil.copytree(DATASETS / "liar", tmp_path / "liar")
    target = tmp_path / "liar" / "protegi" / "test.jsonl"
    target.chmod(0o644)
    target.write_text(target.read_text()[:-10])
    with pytest.raises(ValueError, match="test.jsonl has sha256"):
        _problems("liar", tmp_path)
    with pytest.raises(FileNotFoundError, match="logical_fallacy/edu_train.csv"):
        _problems("fallacy", tmp_path)


def test_prompts_and_answers():
    task = ClassifyTask(ClassifyParams(dataset="liar"))
    demos = [Demo("Statement: the sky is green", "Yes"), Demo("Statement: water is wet", "No")]
    raw = task.render(demos, "Statement: cats bark", chat=False)["prompt"]
    assert raw.startswith("Decide whether the statement below")
    assert "Text:\nStatement: the sky is green\nAnswer: Yes\n\nText:\nStatement: water is wet\nAnswer: No" in raw
    assert raw.endswith("Text:\nStatement: cats bark\nAnswer:")
    chat = task.render(demos, "Statement: cats bark", chat=True)["messages"]
    assert [r for r, _ in chat] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert chat[2][1] == "Yes"
    assert [task.extract_answer(t) for t in ("Yes.", " no, it is true", "YES", "Perhaps", "", "yesterday no")] == [
        "1", "0", "1", None, None, "0"]
    assert task.grade_many(["1", "0", None], ["1", "1", "0"]) == [1.0, 0.0, 0.0]
