"""The prompt layout that instruction-following tasks share (math, code): an instruction, worked
examples as (question, rationale) pairs, then the question. Raw mode joins them into one prompt;
chat mode makes user/assistant turns, with the instruction as a system message or in the first
user turn. A task's prompt config supplies `instruction`, `question_template` (with a
`{question}` slot), `demo_separator`, `instruction_role` and `stop`."""

from __future__ import annotations

from typing import Any, Sequence

from lbt.tasks.base import PromptSpec


def render_layout(config: Any, shown: Sequence[tuple[str, str]], question: str, chat: bool) -> PromptSpec:
    """{"prompt": str} or {"messages": ((role, content), ...)}, plus the config's "stop" strings."""
    spec = chat_prompt(config, shown, question) if chat else raw_prompt(config, shown, question)
    spec["stop"] = tuple(config.stop)
    return spec


def question_block(config: Any, question: str) -> str:
    return config.question_template.replace("{question}", question)


def raw_prompt(config: Any, shown: Sequence[tuple[str, str]], question: str) -> PromptSpec:
    blocks = [question_block(config, q) + r for q, r in shown] + [question_block(config, question)]
    body = config.demo_separator.join(blocks)
    instruction = config.instruction.strip()
    return {"prompt": f"{instruction}{config.demo_separator}{body}" if instruction else body}


def chat_prompt(config: Any, shown: Sequence[tuple[str, str]], question: str) -> PromptSpec:
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
