"""Math prompts, raw and chat, and the prompt config."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lbt.tasks.base import Demo
from lbt.tasks.math import MathParams, MathPromptConfig, MathStubDemo, MathTask, extract_answer
from lbt.tasks.math.config import GradingParams
from lbt.tasks.math.prompts import render

TEACHING = Demo("What is $2+3$?", "Adding gives $2+3=\\boxed{5}$.")
EXAM_QUESTION = "What is $4+4$?"


def test_raw_prompt_shape() -> None:
    spec = render(MathPromptConfig(), [TEACHING], EXAM_QUESTION, chat=False)
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
    spec = render(MathPromptConfig(), [TEACHING], EXAM_QUESTION, chat=True)
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
    messages = render(config, [TEACHING], EXAM_QUESTION, chat=True)["messages"]
    assert [role for role, _ in messages] == ["user", "assistant", "user"]
    assert messages[0][1].startswith(config.instruction) and TEACHING.question in messages[0][1]


def test_exam_prompt_and_rationale_with_its_own_block() -> None:
    rationale = "So it is 5.\n\n[[Final Answer]]:\n$5$"
    spec = MathTask().exam_prompt("What is $2+3$?", rationale, EXAM_QUESTION, chat=False)
    assert spec["prompt"].count("[[Final Answer]]:\n$5$") == 1


def test_prompt_config_is_strict_and_documented() -> None:
    with pytest.raises(ValidationError):
        MathPromptConfig(unknown_key=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="question"):
        MathPromptConfig(question_template="no slot")
    for model in (MathPromptConfig, MathStubDemo, GradingParams, MathParams):
        assert all(field.description for field in model.model_fields.values()), model
        with pytest.raises(ValidationError):
            model(unknown_key=1)  # type: ignore[call-arg]
    custom = MathPromptConfig(question_template="Q: {question}\nA: Let's think step by step.\n", stub_demos=[])
    prompt = render(custom, [], "What is {x}?", chat=False)["prompt"]
    assert prompt.endswith("Q: What is {x}?\nA: Let's think step by step.\n")
