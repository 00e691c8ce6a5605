"""The `code:` section of params.yaml: which problems form the groups, how tests are split,
how prompts are written and how the sandbox runs answers. Pydantic schemas only."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lbt.schema import StrictModel

_INSTRUCTION = (
    "Solve the last programming problem below. First explain your approach in a few sentences, "
    "then give the complete solution as Python code in a single ```python code block, starting "
    "from the given starter code."
)


class CodePromptConfig(StrictModel):
    """How code prompts are written (`code.prompt`)."""

    instruction: str = Field(_INSTRUCTION, description="Opening instruction (raw: first in the prompt; chat: per `instruction_role`).")
    question_template: str = Field(
        "### Problem:\n{question}\n\n### Solution:\n",
        description="Text before every rationale; '{question}' is replaced by the problem (with its starter code).",
    )
    demo_separator: str = Field("\n\n\n", description="Text between examples in raw mode.")
    instruction_role: Literal["system", "user"] = Field("system", description="Chat mode: system message or first user turn.")
    stop: list[str] = Field(default_factory=lambda: ["### Problem:"], description="Stop strings.")
    revision_template: str = Field(
        "\n\n### Feedback:\n{feedback}\nFix the code: explain the fix in a few sentences, then give the whole "
        "corrected solution in a single ```python code block.\n\n### Revised solution:\n",
        description="Self-debugging: what follows the failed solution ('{feedback}': the visible-test error); "
        "in chat mode the text (stripped) is the user's next turn.")


class CodeSandboxParams(StrictModel):
    """How answers run (`code.sandbox`): see lbt/sandbox."""

    workers: int = Field(2, ge=1, description="Programs running at once.")
    timeout_s: float = Field(10.0, gt=0, description="Wall seconds for one program and all its tests.")
    memory_mb: int = Field(1024, ge=64, description="Address-space limit of each process.")


class CodeParams(StrictModel):
    """The `code:` section of params.yaml (used when `task: code`)."""

    raw_dir: str = Field("../shared/datasets", description="Folder holding leetcodedataset/ and humaneval/.")
    source: Literal["leetcode", "humaneval", "groups_file"] = Field(
        "leetcode",
        description="Where the groups come from: LeetCodeDataset v0.3.1 test grouped by `leetcode_tags`; "
        "HumanEval in blocks of `humaneval_group_size` consecutive problems (not similar problems: a "
        "format check); or your own `groups_file` (JSONL, see docs/tasks.md).",
    )
    leetcode_tags: list[str] = Field(
        default_factory=lambda: ["Dynamic Programming"],
        description="One group per tag; a problem carrying several of them joins the first listed.",
    )
    humaneval_group_size: int = Field(6, ge=2, description="Problems per HumanEval block.")
    groups_file: str | None = Field(None, description="Your groups (JSONL) when `source: groups_file`.")
    max_group_size: int | None = Field(None, ge=2, description="Keep the first problems of each group by id.")
    visible_tests: int = Field(3, ge=1, description="Tests shown (V-score); the rest are hidden (S-score).")
    grade: Literal["v_score", "pass_rate"] = Field(
        "v_score", description="An answer's grade on its visible tests, what LbT scores average: v_score (1 when "
        "all pass, the paper's) or pass_rate (the fraction passed).")
    prompt: CodePromptConfig = Field(default_factory=CodePromptConfig, description="Prompt setup.")
    sandbox: CodeSandboxParams = Field(default_factory=CodeSandboxParams, description="Sandbox limits.")
