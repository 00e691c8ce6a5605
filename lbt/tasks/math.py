"""The `math` task: MATH500 teaching problems, MATH() functional variants as exams.

Data (read in place from `raw_dir`, every file checked by sha256, tarballs read without
extracting them):

- the TPs are the 181 MATH500 test problems that have functional variants in all three MATH()
  snapshots (fneval Oct/Nov/Dec-2023); each TP's family id is its MATH id
  (`test/algebra/1.json`) and its 3 variants are its EPs (`Oct-2023:test/algebra/1.json`, ...);
- the other 1564 snapshot ids form the training pool (role `train`, text and solution from
  the MATH test set) with their 3 variants each (role `train_ep`).

Prompts follow the paper's setup (an instruction asking for step-by-step reasoning that ends
in a `[[Final Answer]]:` block, `[[Question]]`/`[[Solution]]` templates, four fixed stub
demonstrations before the teaching example), configurable through `MathPromptConfig`.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any, Literal, Sequence

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lbt.tasks.base import PROBLEM_COLUMNS, Demo, PromptSpec, Task
from lbt.tasks.math_answers import (
    FINAL_ANSWER_MARKER,
    GroupingMode,
    extract_answer,
    grade_many,
    group_answers,
    is_equivalent,
    last_boxed_content,
)

# ---------------------------------------------------------------------------------------------
# Input files
# ---------------------------------------------------------------------------------------------

SNAPSHOTS = ("Oct-2023", "Nov-2023", "Dec-2023")
MATH500_FILE = "math500/test.jsonl"
MATH_FILE = "MATH/test.jsonl"
SNAPSHOT_FILES = {name: f"fneval/{name}.tar.gz" for name in SNAPSHOTS}

# {path relative to raw_dir: (sha256, where to get it)}
DATA_FILES: dict[str, tuple[str, str]] = {
    MATH500_FILE: (
        "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
        "openai/prm800k, file prm800k/math_splits/test.jsonl (MIT; a Git LFS object there)",
    ),
    MATH_FILE: (
        "6ae93d20270f23a8a9cd13aace256cdc066082226ab31e0d4fe3a0350c30351f",
        "the MATH test set (Hendrycks et al., MIT) as one JSON object per line, as in "
        "brando90/snap-cluster-setup @92976bd data/MATH/test/",
    ),
    SNAPSHOT_FILES["Oct-2023"]: (
        "11840167a0bc05cc728dd84d039d3ec97036fb28ed5d72bf123ecaf4cfb36324",
        "ConsequentAI/fneval @a89e561, file Oct-2023.tar.gz at the repository root (GPL-3.0)",
    ),
    SNAPSHOT_FILES["Nov-2023"]: (
        "06b667af3759c95db161ec96a84468c6b21b69766a287bf72a1f57c60227fc9f",
        "ConsequentAI/fneval @a89e561, file Nov-2023.tar.gz at the repository root (GPL-3.0)",
    ),
    SNAPSHOT_FILES["Dec-2023"]: (
        "58c5cba5df0f5460f25410ffda46b4624c17bb5748f95071eac084417d422c14",
        "ConsequentAI/fneval @a89e561, file Dec-2023.tar.gz at the repository root (GPL-3.0)",
    ),
}

EXPECTED_TPS = 181
EXPECTED_TRAIN = 1564
VARIANTS_PER_PROBLEM = len(SNAPSHOTS)

EXTRA_COLUMNS = {"level": pl.Int64, "subject": pl.String}


def checked_file(raw_dir: Path, relative: str) -> Path:
    """The path of an input file after checking its sha256; stops with one sentence otherwise."""
    expected, source = DATA_FILES[relative]
    path = raw_dir / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"Missing math input file {path} (expected sha256 {expected}): get it from {source} "
            f"and place it at {relative} under the raw-data directory."
        )
    actual = _sha256(path)
    if actual != expected:
        raise ValueError(
            f"Math input file {path} has sha256 {actual} but expected sha256 {expected}: "
            f"download it again from {source}."
        )
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _read_snapshot(path: Path, snapshot: str) -> dict[str, dict[str, Any]]:
    """{MATH id: record} of one MATH() tarball, read in memory."""
    records: dict[str, dict[str, Any]] = {}
    prefix = snapshot + "/"
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            if not (member.isfile() and member.name.endswith(".json")):
                continue
            handle = archive.extractfile(member)
            assert handle is not None
            problem_id = member.name[len(prefix) :] if member.name.startswith(prefix) else member.name
            records[problem_id] = json.loads(handle.read())
    return records


def _level(value: Any) -> int | None:
    """1-5 from `3` or `"Level 3"`; None for anything else (MATH has a few `Level ?`)."""
    text = str(value).removeprefix("Level").strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= 5 else None


def _boxed_answer(solution: str, where: str) -> str:
    answer = last_boxed_content(solution)
    if answer is None:
        raise ValueError(f"The solution of {where} has no \\boxed{{}} answer; the input file looks damaged.")
    return answer


# ---------------------------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------------------------


class MathStubDemo(BaseModel):
    """A fixed worked example shown before the teaching example."""

    model_config = ConfigDict(extra="forbid")

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


class MathPromptConfig(BaseModel):
    """How math prompts are written (the `math.prompt` section of params.yaml)."""

    model_config = ConfigDict(extra="forbid")

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


# ---------------------------------------------------------------------------------------------
# The task
# ---------------------------------------------------------------------------------------------


class MathTask(Task):
    """MATH500 TPs with MATH() variants as EPs; answers graded with math-verify."""

    name = "math"

    def __init__(
        self,
        raw_dir: str | Path,
        prompt: MathPromptConfig | None = None,
        grouping: GroupingMode = "equivalence",
    ) -> None:
        if grouping not in ("equivalence", "exact"):
            raise ValueError(f"math grouping must be 'equivalence' or 'exact', got {grouping!r}.")
        self.raw_dir = Path(raw_dir)
        self.prompt = prompt or MathPromptConfig()
        self.grouping: GroupingMode = grouping

    # -- data ---------------------------------------------------------------------------------

    def load_problems(self) -> pl.DataFrame:
        paths = {relative: checked_file(self.raw_dir, relative) for relative in DATA_FILES}
        math500 = {r["unique_id"]: r for r in _read_jsonl(paths[MATH500_FILE])}
        math_test = {r["unique_id"]: r for r in _read_jsonl(paths[MATH_FILE])}
        snapshots = {name: _read_snapshot(paths[SNAPSHOT_FILES[name]], name) for name in SNAPSHOTS}
        family_ids = _common_ids(snapshots)
        tp_ids = sorted(family_ids & math500.keys())
        train_ids = sorted(family_ids - math500.keys())
        _check_counts(tp_ids, train_ids, math_test)
        rows = [_original_row(math500[i], "tp") for i in tp_ids]
        rows += [_variant_row(i, name, snapshots[name][i], "ep") for i in tp_ids for name in SNAPSHOTS]
        rows += [_original_row(math_test[i], "train") for i in train_ids]
        rows += [_variant_row(i, name, snapshots[name][i], "train_ep") for i in train_ids for name in SNAPSHOTS]
        return _problems_frame(rows)

    # -- prompts ------------------------------------------------------------------------------

    def render(self, demos: Sequence[Demo], question: str, chat: bool) -> PromptSpec:
        """Stub demos first, then `demos`, then `question`; the completion is a rationale."""
        examples = [Demo(s.question, s.rationale) for s in self.prompt.stub_demos] + list(demos)
        shown = [(d.question, self._shown_rationale(d.rationale)) for d in examples]
        spec: PromptSpec = self._chat(shown, question) if chat else self._raw(shown, question)
        spec["stop"] = tuple(self.prompt.stop)
        return spec

    def _question_block(self, question: str) -> str:
        return self.prompt.question_template.replace("{question}", question)

    def _shown_rationale(self, rationale: str) -> str:
        rationale = rationale.strip()
        if not self.prompt.append_final_answer or FINAL_ANSWER_MARKER in rationale:
            return rationale
        answer = last_boxed_content(rationale)
        return rationale if answer is None else f"{rationale}\n\n{FINAL_ANSWER_MARKER}:\n${answer}$"

    def _raw(self, shown: list[tuple[str, str]], question: str) -> PromptSpec:
        blocks = [self._question_block(q) + r for q, r in shown] + [self._question_block(question)]
        instruction = self.prompt.instruction.strip()
        body = self.prompt.demo_separator.join(blocks)
        return {"prompt": f"{instruction}{self.prompt.demo_separator}{body}" if instruction else body}

    def _chat(self, shown: list[tuple[str, str]], question: str) -> PromptSpec:
        turns: list[tuple[str, str]] = []
        for q, r in shown:
            turns += [("user", self._question_block(q).strip()), ("assistant", r)]
        turns.append(("user", self._question_block(question).strip()))
        instruction = self.prompt.instruction.strip()
        if instruction and self.prompt.instruction_role == "system":
            turns.insert(0, ("system", instruction))
        elif instruction:
            role, content = turns[0]
            turns[0] = (role, f"{instruction}\n\n{content}")
        return {"messages": tuple(turns)}

    # -- answers ------------------------------------------------------------------------------

    def extract_answer(self, completion: str) -> str | None:
        return extract_answer(completion)

    def is_correct(self, answer: str | None, gold: str) -> bool:
        return answer is not None and is_equivalent(gold, answer)

    def is_correct_many(self, answers: Sequence[str | None], golds: Sequence[str]) -> list[bool]:
        """`is_correct` for many (answer, gold) pairs at once, each distinct pair decided once."""
        return grade_many(golds, answers)

    @property
    def grouping_modes(self) -> tuple[str, ...]:
        """The configured grouping first, then the other one (both are reported)."""
        return (self.grouping, "exact" if self.grouping == "equivalence" else "equivalence")

    def answer_groups(self, answers: Sequence[str | None], scopes: Sequence[Any] | None = None,
                      mode: str | None = None) -> list[str | None]:
        return group_answers(answers, mode or self.grouping, scopes)


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------


def _common_ids(snapshots: dict[str, dict[str, dict[str, Any]]]) -> set[str]:
    id_sets = [set(records) for records in snapshots.values()]
    common = set.intersection(*id_sets)
    if any(ids != common for ids in id_sets):
        raise ValueError("The MATH() snapshots do not hold the same problem ids; check the fneval tarballs.")
    return common


def _check_counts(tp_ids: list[str], train_ids: list[str], math_test: dict[str, Any]) -> None:
    if len(tp_ids) != EXPECTED_TPS or len(train_ids) != EXPECTED_TRAIN:
        raise ValueError(
            f"Expected {EXPECTED_TPS} teaching problems and {EXPECTED_TRAIN} training problems, found "
            f"{len(tp_ids)} and {len(train_ids)}; the math input files do not match their checksums' release."
        )
    missing = [i for i in train_ids if i not in math_test]
    if missing:
        raise ValueError(f"{len(missing)} training ids (e.g. {missing[0]}) are missing from {MATH_FILE}.")


def _original_row(record: dict[str, Any], role: str) -> dict[str, Any]:
    """A TP (a MATH500 record: it has `answer` and `subject`) or a training problem (a MATH
    test record: the answer is its solution's last box, the subject is its `type`)."""
    problem_id = record["unique_id"]
    answer = record["answer"] if "answer" in record else _boxed_answer(record["solution"], f"{MATH_FILE}:{problem_id}")
    return {
        "problem_id": problem_id,
        "family_id": problem_id,
        "role": role,
        "question": record["problem"],
        "solution": record["solution"],
        "answer": answer,
        "level": _level(record["level"]),
        "subject": record.get("subject", record.get("type")),
    }


def _variant_row(family_id: str, snapshot: str, record: dict[str, Any], role: str) -> dict[str, Any]:
    problem_id = f"{snapshot}:{family_id}"
    return {
        "problem_id": problem_id,
        "family_id": family_id,
        "role": role,
        "question": record["problem"],
        "solution": record["solution"],
        "answer": _boxed_answer(record["solution"], problem_id),
        "level": _level(record["level"]),
        "subject": record["type"],
    }


def _problems_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows in the order tp, ep, train, train_ep; by family id, snapshots in time order."""
    return pl.DataFrame(rows, schema={**PROBLEM_COLUMNS, **EXTRA_COLUMNS})
