"""The `rationales` and `exam` sections of params.yaml (light imports only)."""

from __future__ import annotations

from typing import Literal

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
