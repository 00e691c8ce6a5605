"""The `rationales` and `exam` sections of params.yaml (light imports only)."""

from __future__ import annotations

from typing import Iterable, Literal

from pydantic import Field

from lbt.schema import StrictModel


ExamMaker = Literal["task", "variants", "group", "similar"]


class SamplingParams(StrictModel):
    temperature: float = Field(1.0, ge=0, description="0 is greedy.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass (1: off).")
    top_k: int = Field(0, ge=0, description="0 turns top-k off.")
    max_tokens: int = Field(48, ge=1, description="Most tokens generated per sample.")


class RationaleParams(SamplingParams):
    """How the teacher writes teaching rationales (TRs)."""

    num_rationales: int = Field(16, ge=1, description="Sampled TRs per TP.")


class ExamParams(SamplingParams):
    """How each student sits its exams."""

    repeats: int = Field(1, ge=1, description="Times each EP is answered per TR and student.")
    max_eps: int | None = Field(None, ge=1, description="Use at most this many EPs per TP (None: all).")
    maker: ExamMaker = Field(
        "task", description="Which problems form a TP's exam: the task's own choice (task), functional variants, "
        "the other problems of its group, or the `k` nearest pool problems by sentence embedding (similar).")
    k: int = Field(3, ge=1, description="Exam problems per TP with `maker: similar`.")


class SelfDebugParams(StrictModel):
    """One round of self-debugging (`self_debug`; tasks whose answers can fail visibly: code).
    A self-debugged model is reported as a model of its own, named `<name>+debug`."""

    teacher: bool = Field(False, description="Each TA that fails its visible tests is revised once by its teacher "
                          "from the test's error; the revised TRs sit their own exams as teacher `<name>+debug`.")
    student: bool = Field(False, description="Each EA that fails its visible tests is revised once by its student; "
                          "the revised exams score TRs as student `<name>+debug`.")


DEBUGGED = "+debug"  # the suffix of a self-debugged model's name


def with_debugged(names: Iterable[str], debug: bool) -> list[str]:
    """Each name, then its self-debugged variant when `debug` (the names results are kept under)."""
    return [v for name in names for v in ((name, f"{name}{DEBUGGED}") if debug else (name,))]


def base_name(name: str) -> str:
    """The model a (possibly self-debugged) name stands for."""
    return name.removesuffix(DEBUGGED)


def debug_flags(self_debug: SelfDebugParams | dict | None) -> tuple[bool, bool]:
    """(teacher, student) self-debugging from the section, its raw mapping, or None (absent: off)."""
    if self_debug is None:
        return False, False
    if isinstance(self_debug, dict):
        return bool(self_debug.get("teacher")), bool(self_debug.get("student"))
    return self_debug.teacher, self_debug.student
