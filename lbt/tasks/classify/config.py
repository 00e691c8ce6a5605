"""The `classify:` section of params.yaml: which binary dataset, where its raw files are, how
prompts are written. Pydantic schemas only (light imports)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lbt.schema import StrictModel

Dataset = Literal["liar", "fallacy"]

# Our own wording of each dataset's yes/no question (the positive class is label 1).
INSTRUCTIONS: dict[str, str] = {
    "liar": "Decide whether the statement below, by a US politician or public figure, is false. "
            "Answer Yes if it is false and No if it is true.",
    "fallacy": "Decide whether the argument below commits the fallacy of faulty generalization: a "
               "conclusion drawn about many cases from too few or unrepresentative ones. Answer Yes or No.",
}


class ClassifyPromptConfig(StrictModel):
    """How classification prompts are written (`classify.prompt`)."""

    instruction: str | None = Field(None, description="Opening instruction; None: the dataset's own (lbt/tasks/classify/config.py).")
    question_template: str = Field("Text:\n{question}\nAnswer:", description="Text before every label; '{question}' is the item's text.")
    demo_separator: str = Field("\n\n", description="Text between examples in raw mode.")
    instruction_role: Literal["system", "user"] = Field("system", description="Chat mode: system message or first user turn.")
    stop: list[str] = Field(default_factory=lambda: ["\n\n", "Text:"], description="Stop strings.")
    positive: str = Field("Yes", description="The label word of class 1.")
    negative: str = Field("No", description="The label word of class 0.")


class ClassifyParams(StrictModel):
    """The `classify:` section of params.yaml (used when `task: classify`)."""

    dataset: Dataset = Field("liar", description="liar (label 1: a false statement) or fallacy (label 1: faulty generalization).")
    raw_dir: str = Field("../shared/datasets", description="Folder holding liar/ and logical_fallacy/ (see docs/tasks.md).")
    text_chars: int = Field(700, ge=1, description="Fallacy: the source article is cut at this many characters.")
    prompt: ClassifyPromptConfig = Field(default_factory=ClassifyPromptConfig, description="Prompt setup.")
