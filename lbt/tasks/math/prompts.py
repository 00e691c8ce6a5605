"""Math prompts, raw or chat, from a `MathPromptConfig`.

Stub demos first, then the given demos (e.g. the teaching example), then the question; the
model's completion is a rationale that should end in a `[[Final Answer]]:` block. A demo
rationale without such a block gets one built from its last `\\boxed{}` (`append_final_answer`).
"""

from __future__ import annotations

from typing import Sequence

from lbt.tasks.base import Demo, PromptSpec
from lbt.tasks.prompting import render_layout
from lbt.tasks.math.config import MathPromptConfig
from lbt.tasks.math.extract import FINAL_ANSWER_MARKER, last_boxed_content


def render(config: MathPromptConfig, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
    """{"prompt": str} or {"messages": ((role, content), ...)}, plus the "stop" strings."""
    examples = [Demo(s.question, s.rationale) for s in config.stub_demos] + list(demos)
    shown = [(d.question, shown_rationale(config, d.rationale)) for d in examples]
    return render_layout(config, shown, question, chat)


def shown_rationale(config: MathPromptConfig, rationale: str) -> str:
    """A demo rationale as shown: with a final answer block from its last box when configured."""
    rationale = rationale.strip()
    if not config.append_final_answer or FINAL_ANSWER_MARKER in rationale:
        return rationale
    answer = last_boxed_content(rationale)
    return rationale if answer is None else f"{rationale}\n\n{FINAL_ANSWER_MARKER}:\n${answer}$"
