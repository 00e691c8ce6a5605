"""The math task's problems table (real files under ../shared/datasets) and its checksums."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from lbt.tasks.base import PROBLEM_COLUMNS
from lbt.tasks.data import sha256_file
from lbt.tasks.math.data import DATA_FILES, MATH500_FILE, SNAPSHOTS, checked_file, load_problems, slice_tps

from .conftest import DATA_DIR, NO_DATA

needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=NO_DATA)


# -- problems table -----------------------------------------------------------------------------


@needs_data
def test_columns_and_types(problems: pl.DataFrame) -> None:
    expected = list(PROBLEM_COLUMNS) + ["level", "subject"]
    assert problems.columns == expected
    assert problems.schema == {**PROBLEM_COLUMNS, "level": pl.Int64, "subject": pl.String}
    assert problems["problem_id"].is_unique().all()
    assert problems.select(pl.col(c).is_null().sum() for c in PROBLEM_COLUMNS).row(0) == (0,) * len(PROBLEM_COLUMNS)
    assert problems["level"].drop_nulls().is_between(1, 5).all()


@needs_data
def test_counts(problems: pl.DataFrame) -> None:
    counts = dict(problems.group_by("role").len().iter_rows())
    assert counts == {"tp": 181, "ep": 543, "train": 1564, "train_ep": 1564 * 3}


@needs_data
def test_families(problems: pl.DataFrame) -> None:
    tps = problems.filter(pl.col("role") == "tp")
    eps = problems.filter(pl.col("role") == "ep")
    assert (tps["problem_id"] == tps["family_id"]).all()
    assert eps.group_by("family_id").len()["len"].to_list() == [3] * 181
    assert set(eps["family_id"]) == set(tps["family_id"])
    first = tps["problem_id"][0]
    assert eps.filter(pl.col("family_id") == first)["problem_id"].to_list() == [f"{s}:{first}" for s in SNAPSHOTS]
    trains = problems.filter(pl.col("role") == "train")
    assert set(problems.filter(pl.col("role") == "train_ep")["family_id"]) == set(trains["family_id"])
    assert not set(trains["family_id"]) & set(tps["family_id"])


def _row(problems: pl.DataFrame, problem_id: str) -> dict:
    return problems.filter(pl.col("problem_id") == problem_id).row(0, named=True)


@needs_data
def test_answers_come_from_the_right_fields(problems: pl.DataFrame) -> None:
    """Values read by hand in the raw files (math500/test.jsonl, MATH/test.jsonl, the fneval
    tarballs)."""
    tp = _row(problems, "test/precalculus/807.json")  # MATH500: convert (0,3) to polar coordinates
    assert tp["answer"] == "\\left( 3, \\frac{\\pi}{2} \\right)" and tp["role"] == "tp"
    assert tp["level"] == 2 and tp["subject"] == "Precalculus"
    assert tp["question"].startswith("Convert the point $(0,3)$ in rectangular coordinates")
    # its variants convert (0, n) for another n each; the answer must be (n, pi/2) of that n
    for snapshot, n in (("Oct-2023", 745), ("Nov-2023", 105), ("Dec-2023", 267)):
        ep = _row(problems, f"{snapshot}:test/precalculus/807.json")
        assert f"$(0,{n})$" in ep["question"]
        assert ep["answer"] == f"\\left( {n}, \\frac{{\\pi}}{{2}} \\right)" and ep["role"] == "ep"
        assert ep["level"] == 2 and ep["subject"] == "Precalculus"
    train = _row(problems, "test/algebra/10.json")  # 120% of 30 minus 130% of 20 = 36 - 26
    assert train["answer"] == "10" and train["role"] == "train"
    assert train["level"] == 1 and train["subject"] == "Algebra"


@needs_data
def test_a_tp_answer_is_read_from_math500s_answer_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MATH500's `answer` equals its solution's box for every record, so only a changed copy
    tells the two fields apart: the TP's answer follows the `answer` field, not the solution."""
    raw = _copy_inputs(tmp_path)
    path = raw / MATH500_FILE
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        if record["unique_id"] == "test/precalculus/807.json":
            record["answer"] = "\\text{from the answer field}"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    monkeypatch.setitem(DATA_FILES, MATH500_FILE, (sha256_file(path), DATA_FILES[MATH500_FILE][1]))
    tp = _row(load_problems(raw), "test/precalculus/807.json")
    assert tp["answer"] == "\\text{from the answer field}"
    assert "\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}" in tp["solution"]


# -- checksums ----------------------------------------------------------------------------------


def _copy_inputs(tmp_path: Path) -> Path:
    for relative in DATA_FILES:
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DATA_DIR / relative, target)
    return tmp_path


def _is_one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and message.count(". ") == 0


@needs_data
def test_a_corrupted_file_stops_with_one_sentence(tmp_path: Path) -> None:
    raw = _copy_inputs(tmp_path)
    relative = "fneval/Nov-2023.tar.gz"
    with (raw / relative).open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00corrupt\x00")
    with pytest.raises(ValueError) as error:
        load_problems(raw)
    message = str(error.value)
    assert relative in message and DATA_FILES[relative][0] in message and "ConsequentAI/fneval" in message
    assert _is_one_sentence(message), message


def test_a_missing_file_stops_with_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as error:
        load_problems(tmp_path)
    message = str(error.value)
    assert "math500/test.jsonl" in message and DATA_FILES["math500/test.jsonl"][0] in message
    assert "openai/prm800k" in message and _is_one_sentence(message), message


@needs_data
def test_checked_file_accepts_the_real_files() -> None:
    for relative in DATA_FILES:
        assert checked_file(DATA_DIR, relative) == DATA_DIR / relative
        assert re.fullmatch(r"[0-9a-f]{64}", DATA_FILES[relative][0])


# -- a slice of the TPs (math.levels, math.max_tps) ---------------------------------------------


@needs_data
def test_a_slice_keeps_the_tps_of_its_levels_with_their_eps_and_every_training_problem(problems: pl.DataFrame) -> None:
    sliced = slice_tps(problems, [1], 5)
    tps, eps = (sliced.filter(pl.col("role") == r) for r in ("tp", "ep"))
    assert tps.height == 5 and (tps["level"] == 1).all()
    assert sorted(eps["family_id"].unique()) == sorted(tps["problem_id"]) and eps.height == 15
    assert sliced.filter(pl.col("role").is_in(["train", "train_ep"])).height == 1564 * 4
    assert sliced.equals(slice_tps(problems, [1], 5))  # the same TPs every time
    assert set(slice_tps(problems, [1], 6).filter(pl.col("role") == "tp")["problem_id"]) > set(tps["problem_id"])
    assert slice_tps(problems, [1, 2], None).filter(pl.col("role") == "tp").height == 25 + 47


@needs_data
def test_a_slice_spreads_over_subjects(problems: pl.DataFrame) -> None:
    subjects = slice_tps(problems, [1], 12).filter(pl.col("role") == "tp")["subject"]
    assert subjects.n_unique() >= 4


@needs_data
def test_levels_that_select_nothing_stop_with_one_sentence(problems: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"math.levels \[7\] selects no teaching problem"):
        slice_tps(problems, [7], None)
