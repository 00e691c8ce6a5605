"""Math prompts, raw or chat, from a `MathPromptConfig`.

Stub demos first, then the given demos (e.g. the teaching example), then the question; the
model's completion is a rationale that should end in a `[[Final Answer]]:` block. A demo
rationale without such a block gets one built from its last `\\boxed{}` (`append_final_answer`).
"""

from __future__ import annotations

from typing import Sequence

from lbt.tasks.base import Demo, PromptSpec
from lbt.tasks.math.config import MathPromptConfig
from lbt.tasks.math.extract import FINAL_ANSWER_MARKER, last_boxed_content


def render(config: MathPromptConfig, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
    """{"prompt": str} or {"messages": ((role, content), ...)}, plus the "stop" strings."""
    examples = [Demo(s.question, s.rationale) for s in config.stub_demos] + list(demos)
    shown = [(d.question, shown_rationale(config, d.rationale)) for d in examples]
    spec: PromptSpec = _chat(config, shown, question) if chat else _raw(config, shown, question)
    spec["stop"] = tuple(config.stop)
    return spec


def question_block(config: MathPromptConfig, question: str) -> str:
    return config.question_template.replace("{question}", question)


def shown_rationale(config: MathPromptConfig, rationale: str) -> str:
    """A demo rationale as shown: with a final answer block from its last box when configured."""
    rationale = rationale.strip()
    if not config.append_final_answer or FINAL_ANSWER_MARKER in rationale:
        return rationale
    answer = last_boxed_content(rationale)
    return rationale if answer is None else f"{rationale}\n\n{FINAL_ANSWER_MARKER}:\n${answer}$"


def _raw(config: MathPromptConfig, shown: list[tuple[str, str]], question: str) -> PromptSpec:
    blocks = [question_block(config, q) + r for q, r in shown] + [question_block(config, question)]
    instruction = config.instruction.strip()
    body = config.demo_separator.join(blocks)
    return {"prompt": f"{instruction}{config.demo_separator}{body}" if instruction else body}


def _chat(config: MathPromptConfig, shown: list[tuple[str, str]], question: str) -> PromptSpec:
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
