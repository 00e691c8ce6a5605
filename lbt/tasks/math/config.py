"""The `math:` section of params.yaml: data folder, grouping, prompt setup and grading.

Pydantic schemas only (light imports). Prompts follow the paper's setup (an instruction asking
for step-by-step reasoning that ends in a `[[Final Answer]]:` block, `[[Question]]`/`[[Solution]]`
templates, four fixed stub demonstrations before the teaching example).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from lbt.schema import StrictModel

from lbt.tasks.base import GroupingMode
from lbt.tasks.math.extract import FINAL_ANSWER_MARKER


class MathStubDemo(StrictModel):
    """A fixed worked example shown before the teaching example."""

    question: str = Field(description="The problem text (LaTeX in $...$).")
    rationale: str = Field(
        description="A short worked solution; it should state its answer (a final answer block "
        "is appended from its last \\boxed{} when `append_final_answer` is on)."
    )


_DEFAULT_STUBS = [
    MathStubDemo(
        question="Find the domain of the expression $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.",
        rationale=(
            "A square root needs a non-negative argument, so $x \\ge 2$ and $x \\le 5$. The "
            "denominator must also be non-zero, which rules out $x = 5$.\n\nSo the domain is "
            "$\\boxed{[2,5)}$."
        ),
    ),
    MathStubDemo(
        question=(
            "If $\\det \\mathbf{A} = 2$ and $\\det \\mathbf{B} = 12,$ then find "
            "$\\det (\\mathbf{A} \\mathbf{B}).$"
        ),
        rationale=(
            "The determinant of a product is the product of the determinants: "
            "$\\det(\\mathbf{A}\\mathbf{B}) = 2 \\cdot 12 = \\boxed{24}$."
        ),
    ),
    MathStubDemo(
        question=(
            "Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound weights "
            "instead, how many times must Terrell lift them in order to lift the same total weight?"
        ),
        rationale=(
            "With the 20-pound weights he lifts $2 \\cdot 20 \\cdot 12 = 480$ pounds in total. "
            "Each lift of the two 15-pound weights moves $30$ pounds, so he needs "
            "$480 / 30 = \\boxed{16}$ lifts."
        ),
    ),
    MathStubDemo(
        question=(
            "If the system of equations\n\\begin{align*}\n6x-4y&=a,\\\\\n6y-9x &=b.\n\\end{align*}"
            "has a solution $(x, y)$ where $x$ and $y$ are both nonzero, find $\\frac{a}{b},$ "
            "assuming $b$ is nonzero."
        ),
        rationale=(
            "Multiplying the first equation by $-\\frac{3}{2}$ gives $6y - 9x = -\\frac{3}{2}a$. "
            "The left side equals $b$, so $b = -\\frac{3}{2}a$ and "
            "$\\frac{a}{b} = \\boxed{-\\frac{2}{3}}$."
        ),
    ),
]

_DEFAULT_INSTRUCTION = (
    "Answer the last question below. Reason step by step before giving your answer. When you "
    "have the answer, end with it in exactly this format:\n"
    f"{FINAL_ANSWER_MARKER}:\n$ANSWER$"
)


class MathPromptConfig(StrictModel):
    """How math prompts are written (the `math.prompt` section of params.yaml)."""

    instruction: str = Field(
        _DEFAULT_INSTRUCTION,
        description="Opening instruction: reason step by step and end with a '[[Final Answer]]:' "
        "block. Raw mode puts it first in the prompt; chat mode per `instruction_role`.",
    )
    question_template: str = Field(
        "[[Question]]:\n{question}\n\n[[Solution]]:\nLet's think step by step.\n\n",
        description="Text shown before every rationale, for demonstrations and the exam question "
        "alike; '{question}' is replaced by the problem (no other braces are interpreted). It "
        "ends with the step-by-step cue; the model's completion is the rationale that follows.",
    )
    demo_separator: str = Field(
        "\n\n\n", description="Text between consecutive examples (and before the question) in raw mode."
    )
    stub_demos: list[MathStubDemo] = Field(
        default_factory=lambda: [d.model_copy() for d in _DEFAULT_STUBS],
        description="Fixed worked examples placed before the teaching example(s); the paper "
        "uses four short MATH problems. An empty list shows none.",
    )
    append_final_answer: bool = Field(
        True,
        description="Give every demonstration rationale that lacks a '[[Final Answer]]:' block one "
        "built from its last \\boxed{} answer, so examples show the format the model must use.",
    )
    instruction_role: Literal["system", "user"] = Field(
        "system",
        description="Chat mode: send the instruction as a system message, or prepend it to the "
        "first user turn (for models without a system role).",
    )
    stop: list[str] = Field(
        default_factory=lambda: ["[[Question]]"],
        description="Stop strings that end a completion before the model writes a next question.",
    )

    @field_validator("question_template")
    @classmethod
    def _has_question_slot(cls, template: str) -> str:
        if "{question}" not in template:
            raise ValueError("math.prompt.question_template must contain '{question}'.")
        return template


class GradingParams(StrictModel):
    """How answers are graded (the `math.grading` section of params.yaml)."""

    workers: int = Field(2, ge=1, description="math-verify worker processes (each grades its share in parallel).")
    timeout_s: float = Field(
        5.0,
        gt=0,
        description="Deadline per item (parse + verify), in seconds; a worker that overruns it is killed and "
        "replaced, and the item keeps the verdict of the classic normalisation (not equivalent).",
    )


class MathParams(StrictModel):
    """The `math:` section of params.yaml (used when `task: math`)."""

    raw_dir: str = Field(
        "../shared/datasets", description="Folder holding math500/, MATH/ and fneval/ (see docs/tasks.md)."
    )
    grouping: GroupingMode = Field(
        "equivalence",
        description="How SC and M1 group answers: by math equivalence, by exact string, or by the "
        "classic MATH normal form ('normalized', the paper's rule). The selection stage reports "
        "all three; this one is the headline.",
    )
    levels: list[Annotated[int, Field(ge=1, le=5)]] | None = Field(
        None, min_length=1, description="Keep only the TPs of these MATH levels (1-5), with their EPs (None: every level); the "
        "training problems stay. A slice for small models and short runs.")
    max_tps: int | None = Field(
        None, ge=1, description="Keep at most this many TPs (after `levels`), with their EPs: a fixed spread "
        "over subjects (the first by a hash of their id), the same on every machine and seed (None: all).")
    pool: bool = Field(
        False, description="Add the MATH test problems outside MATH500 test (4,500, role `pool`) to the problems "
        "table: the pool that `exam.maker: similar` draws exams from.")
    prompt: MathPromptConfig = Field(
        default_factory=MathPromptConfig, description="Overrides of the paper's prompt setup."
    )
    grading: GradingParams = Field(
        default_factory=GradingParams, description="math-verify worker processes and their per-item deadline."
    )
