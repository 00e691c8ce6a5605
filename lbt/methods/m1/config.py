"""M1's method names and the `selection` section of params.yaml (light imports only)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from lbt.schema import StrictModel


class Method(StrEnum):
    """Answer-selection methods; the value is the name used in params, tables and metrics."""

    GREEDY = "greedy"  # the teacher's temperature-0 answer
    SC = "sc"  # self-consistency: the answer class with most votes
    M1_MAX = "m1_max"  # highest single LbT score
    M1_SUM = "m1_sum"  # highest sum of LbT scores
    M1_AVG = "m1_avg"  # highest mean LbT score

    @property
    def label(self) -> str:
        return {"greedy": "Greedy", "sc": "SC"}.get(self.value, self.value.upper().replace("_", "-"))

    @property
    def uses_scores(self) -> bool:
        return self.value.startswith("m1_")


# M1 for code (`lbt.methods.m1.code`): the S-score of the TA each way of choosing picks, and its label.
MEASURES = ("greedy", "avg_all", "m1_max", "avg_v1", "m1_max_v1", "best")
LABELS = {"greedy": "Greedy", "avg_all": "Avg. (all TAs)", "m1_max": "M1-MAX", "avg_v1": "Avg. (V=1 TAs)",
          "m1_max_v1": "M1-MAX (V=1 TAs)", "best": "Best TA (oracle)"}

# How a full tie (equal score and votes) between answer classes is broken: toward the class whose
# first TR has the lowest sample number, or the highest (the original code's rule).
Ties = Literal["first_seen", "last_seen"]


class AdaptiveParams(StrictModel):
    """The adaptive exam budget (`lbt.methods.m1.adaptive`): exam answers only where they can still
    change a TP's M1-SUM pick."""

    enabled: bool = Field(True, description="Run the adaptive exam stages (one per teacher-student pair).")
    z: float = Field(2.0, gt=0, description="Width of the confidence interval on each answer class's total, "
                     "in standard errors (.inf: stop on certainty only, the full exam's M1-SUM pick exactly).")
    batch_fraction: float = Field(0.05, gt=0, le=1, description="Share of a TP's exam answers examined per round.")
    max_fraction: float = Field(1.0, gt=0, le=1, description="Most of a TP's exam answers ever examined (the budget).")


class SelectionParams(StrictModel):
    methods: list[Method] = Field(default_factory=lambda: list(Method), description="Methods to run and report.")
    resample_sizes: list[int] = Field(
        default_factory=lambda: [1, 2, 4, 8, 16],
        description="Numbers of TRs per TP for the accuracy-vs-N analysis (subsets of the N sampled).",
    )
    resample_trials: int = Field(50, ge=1, description="Random subsets drawn per size.")
    student_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Students scored together, by group name: a TR's combined LbT score is the mean over all "
                    "the group's exam answers; each group is reported as a student of its own.",
    )
    adaptive: AdaptiveParams | None = Field(
        None, description="The adaptive exam budget, beside the full exam (absent: no adaptive stages).")
    ties: Ties = Field("first_seen", description="Full ties go to the answer class seen first or last "
                       "(last_seen, with grouping `normalized`, is the original code's rule).")

    @field_validator("student_groups")
    @classmethod
    def _members(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, members in groups.items():
            if len(set(members)) < 2 or len(set(members)) != len(members):
                raise ValueError(f"group {name!r} needs two or more distinct students")
        return groups

    @field_validator("resample_sizes")
    @classmethod
    def _positive_sizes(cls, sizes: list[int]) -> list[int]:
        if any(n < 1 for n in sizes):
            raise ValueError("every resample size must be at least 1")
        return sizes
