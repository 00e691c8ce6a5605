"""Code prompts, raw or chat: the instruction, the demos (problem, then a rationale ending in
a ```python block), then the problem to solve; the completion is a rationale with code."""

from __future__ import annotations

from typing import Sequence

from lbt.tasks.base import Demo, PromptSpec
from lbt.tasks.prompting import render_layout
from lbt.tasks.code.config import CodePromptConfig


def render(config: CodePromptConfig, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
    """{"prompt": str} or {"messages": ((role, content), ...)}, plus the "stop" strings."""
    shown = [(d.question, d.rationale.strip()) for d in demos]
    return render_layout(config, shown, question, chat)


def revision(config: CodePromptConfig, prompt: PromptSpec, completion: str, feedback: str, chat: bool) -> PromptSpec:
    """One round of self-debugging: the prompt that produced `completion`, the completion, then the
    visible-test `feedback` and a request to fix the code (raw: appended; chat: two more turns)."""
    turn = config.revision_template.replace("{feedback}", feedback)
    if chat:
        messages = (*prompt["messages"], ("assistant", completion.strip()), ("user", turn.strip()))
        return {"messages": messages, "stop": tuple(config.stop)}
    return {"prompt": f"{prompt['prompt']}{completion.strip()}{turn}", "stop": tuple(config.stop)}
