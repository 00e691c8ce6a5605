"""The math task's data (real files under ../shared/datasets) and its prompts."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from lbt.tasks.base import PROBLEM_COLUMNS, Demo
from lbt.tasks.math import DATA_FILES, SNAPSHOTS, MathPromptConfig, MathStubDemo, MathTask, checked_file
from lbt.tasks.math_answers import extract_answer

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"real datasets not found at {DATA_DIR}")


@pytest.fixture(scope="module")
def problems() -> pl.DataFrame:
    if not DATA_DIR.is_dir():
        pytest.skip(f"real datasets not found at {DATA_DIR}")
    return MathTask(DATA_DIR).load_problems()


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


@needs_data
def test_answers_come_from_the_right_fields(problems: pl.DataFrame) -> None:
    tp = problems.filter(pl.col("problem_id") == "test/precalculus/807.json").row(0, named=True)
    assert tp["answer"] == "\\left( 3, \\frac{\\pi}{2} \\right)"  # MATH500's `answer`
    assert tp["level"] == 2 and tp["subject"] == "Precalculus"
    for row in problems.filter(pl.col("role").is_in(["ep", "train_ep"])).head(50).iter_rows(named=True):
        assert row["solution"] == f"\\boxed{{{row['answer']}}}"
    train = problems.filter(pl.col("role") == "train").row(0, named=True)
    assert train["answer"] == extract_answer(train["solution"])


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
        MathTask(raw).load_problems()
    message = str(error.value)
    assert relative in message and DATA_FILES[relative][0] in message and "ConsequentAI/fneval" in message
    assert _is_one_sentence(message), message


@needs_data
def test_a_missing_file_stops_with_one_sentence(tmp_path: Path) -> None:
    raw = _copy_inputs(tmp_path)
    (raw / "math500" / "test.jsonl").unlink()
    with pytest.raises(FileNotFoundError) as error:
        MathTask(raw).load_problems()
    message = str(error.value)
    assert "math500/test.jsonl" in message and DATA_FILES["math500/test.jsonl"][0] in message
    assert "openai/prm800k" in message and _is_one_sentence(message), message


@needs_data
def test_checked_file_accepts_the_real_files() -> None:
    for relative in DATA_FILES:
        assert checked_file(DATA_DIR, relative) == DATA_DIR / relative


# -- prompts ------------------------------------------------------------------------------------

TEACHING = Demo("What is $2+3$?", "Adding gives $2+3=\\boxed{5}$.")
EXAM_QUESTION = "What is $4+4$?"


def test_raw_prompt_shape() -> None:
    spec = MathTask("unused").render([TEACHING], EXAM_QUESTION, chat=False)
    assert set(spec) == {"prompt", "stop"}
    prompt = spec["prompt"]
    assert prompt.startswith(MathPromptConfig().instruction)
    assert prompt.endswith(f"[[Question]]:\n{EXAM_QUESTION}\n\n[[Solution]]:\nLet's think step by step.\n\n")
    stub_positions = [prompt.index(stub.question) for stub in MathPromptConfig().stub_demos]
    assert stub_positions == sorted(stub_positions)
    assert stub_positions[-1] < prompt.index(TEACHING.question) < prompt.rindex(EXAM_QUESTION)
    assert prompt.count("[[Final Answer]]:\n$") == 6  # the instruction, 4 stubs, the teaching example
    assert "[[Final Answer]]:\n$5$" in prompt
    assert spec["stop"] == ("[[Question]]",)


def test_chat_prompt_shape() -> None:
    spec = MathTask("unused").render([TEACHING], EXAM_QUESTION, chat=True)
    assert set(spec) == {"messages", "stop"}
    messages = spec["messages"]
    hash(messages)
    assert isinstance(messages, tuple) and all(isinstance(m, tuple) and len(m) == 2 for m in messages)
    roles = [role for role, _ in messages]
    assert roles == ["system"] + ["user", "assistant"] * 5 + ["user"]
    assert messages[-2][1].startswith(TEACHING.rationale) and messages[-2][1].endswith("[[Final Answer]]:\n$5$")
    assert messages[-1][1] == f"[[Question]]:\n{EXAM_QUESTION}\n\n[[Solution]]:\nLet's think step by step."
    assert extract_answer(messages[-2][1]) == "5"


def test_chat_instruction_in_the_first_user_turn_and_no_stubs() -> None:
    config = MathPromptConfig(instruction_role="user", stub_demos=[])
    messages = MathTask("unused", prompt=config).render([TEACHING], EXAM_QUESTION, chat=True)["messages"]
    assert [role for role, _ in messages] == ["user", "assistant", "user"]
    assert messages[0][1].startswith(config.instruction) and TEACHING.question in messages[0][1]


def test_exam_prompt_and_rationale_with_its_own_block() -> None:
    rationale = "So it is 5.\n\n[[Final Answer]]:\n$5$"
    spec = MathTask("unused").exam_prompt("What is $2+3$?", rationale, EXAM_QUESTION, chat=False)
    assert spec["prompt"].count("[[Final Answer]]:\n$5$") == 1


def test_prompt_config_is_strict_and_documented() -> None:
    with pytest.raises(ValidationError):
        MathPromptConfig(unknown_key=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="question"):
        MathPromptConfig(question_template="no slot")
    for model in (MathPromptConfig, MathStubDemo):
        assert all(field.description for field in model.model_fields.values()), model
    custom = MathPromptConfig(question_template="Q: {question}\nA: Let's think step by step.\n", stub_demos=[])
    prompt = MathTask("unused", prompt=custom).render([], "What is {x}?", chat=False)["prompt"]
    assert prompt.endswith("Q: What is {x}?\nA: Let's think step by step.\n")


def test_grouping_follows_the_task_setting() -> None:
    answers = ["\\frac12", "0.5", None]
    assert MathTask("unused").answer_groups(answers)[0] == MathTask("unused").answer_groups(answers)[1]
    assert MathTask("unused", grouping="exact").answer_groups(answers) == ["\\frac12", "0.5", None]
    assert MathTask("unused").is_correct("0.5", "\\frac{1}{2}") and not MathTask("unused").is_correct(None, "1")
    with pytest.raises(ValueError, match="grouping"):
        MathTask("unused", grouping="fuzzy")  # type: ignore[arg-type]
