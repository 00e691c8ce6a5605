"""Code prompts, raw or chat: the instruction, the demos (problem, then a rationale ending in
a ```python block), then the problem to solve; the completion is a rationale with code."""

from __future__ import annotations

from typing import Sequence

from lbt.tasks.base import Demo, PromptSpec
from lbt.tasks.code.config import CodePromptConfig


def render(config: CodePromptConfig, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
    """{"prompt": str} or {"messages": ((role, content), ...)}, plus the "stop" strings."""
    shown = [(d.question, d.rationale.strip()) for d in demos]
    spec: PromptSpec = _chat(config, shown, question) if chat else _raw(config, shown, question)
    spec["stop"] = tuple(config.stop)
    return spec


def question_block(config: CodePromptConfig, question: str) -> str:
    return config.question_template.replace("{question}", question)


def _raw(config: CodePromptConfig, shown: list[tuple[str, str]], question: str) -> PromptSpec:
    blocks = [question_block(config, q) + r for q, r in shown] + [question_block(config, question)]
    body = config.demo_separator.join(blocks)
    instruction = config.instruction.strip()
    return {"prompt": f"{instruction}{config.demo_separator}{body}" if instruction else body}


def _chat(config: CodePromptConfig, shown: list[tuple[str, str]], question: str) -> PromptSpec:
    turns: list[tuple[str, str]] = []
    for q, r in shown:
        turns += [("user", question_block(config, q).strip()), ("assistant", r)]
    turns.append(("user", question_block(config, question).strip()))
    instruction = config.instruction.strip()
    if instruction and config.instruction_role == "system":
        turns.insert(0, ("system", instruction))
    elif instruction:
        role, content = turns[0]
        turns[0] = (role, f"{instruction}\n\n{content}")
    return {"messages": tuple(turns)}
