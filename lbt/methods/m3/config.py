"""The `m3` section of params.yaml: the exemplar-refinement loop, its student settings, its
operator and the prompts of the LLM operator (light imports only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from lbt.config import ParamsError
from lbt.engines.config import ModelConfig
from lbt.schema import StrictModel
from lbt.teaching.config import SamplingParams

if TYPE_CHECKING:
    from lbt.config import Params

Metric = Literal["f1", "accuracy"]

REFLECTION_PROMPT = """You are a teacher. Your students answered the task below with the help of a set of worked examples.

Task: {task}

The examples they were shown:
{exemplars}

Questions they got wrong, with the correct label and the students' answers:
{failures}

Why might these examples have misled the students on these questions? Name what the examples show, or fail to show, that led to each mistake, in a few sentences."""

PROPOSAL_PROMPT = """You are a teacher choosing worked examples for your students.

Task: {task}

The current examples:
{exemplars}

A review of the students' mistakes with these examples found:
{reflection}

Write a better set of exactly {size} examples that avoids those mistakes: {per_class} of them labeled {positive} and {per_class} labeled {negative}. You may keep, edit or replace the current ones. Write each example as
<example><text>THE TEXT</text><label>{positive} or {negative}</label></example>
and nothing else."""


class LLMOperatorParams(StrictModel):
    """The LLM operator: reflections on failures, then revised sets (`m3.llm`). Prompts are
    templates with slots {task} {exemplars} {failures} {reflection} {size} {per_class}
    {positive} {negative}; exemplars are written as <example><text>…</text><label>…</label></example>."""

    reflection_prompt: str = Field(REFLECTION_PROMPT, description="Asks the teacher why the exemplars misled the students on F failures.")
    proposal_prompt: str = Field(PROPOSAL_PROMPT, description="Asks the teacher for a revised set, given one reflection.")
    reflection: SamplingParams = Field(default_factory=lambda: SamplingParams(temperature=1.0, max_tokens=400))
    proposal: SamplingParams = Field(default_factory=lambda: SamplingParams(temperature=1.0, max_tokens=1500))
    min_parsed: float = Field(0.5, ge=0, le=1, description="A proposal with fewer parsed exemplars than this share of "
                              "the set size is dropped (the rest of a set is filled from its parent).")


class M3Params(StrictModel):
    """M3 (paper §5, App. C.3): a beam of exemplar sets refined from students' failures."""

    teacher: str | None = Field(None, description="The teacher (a key of `teachers`); None: the first one.")
    settings: dict[str, list[str]] = Field(
        description="Student settings by name: the models (keys of `teachers` or `students`) that answer the "
                    "minibatch; their failures are pooled. The paper: the teacher itself, one other, several.",
        min_length=1)
    operator: Literal["llm", "toy"] = Field("llm", description="llm: reflections and proposals by the teacher "
                                            "(instruction models); toy: the toy world's operator.")
    init: Literal["train", "teacher"] = Field("train", description="Initial exemplars: training items with their "
                                              "gold solution, or the teacher's sampled solutions to them (toy).")
    beam: int = Field(4, ge=1, description="B: exemplar sets kept after each iteration.")
    exemplars: int = Field(8, ge=1, description="E: exemplars per set (even for binary tasks: balanced classes).")
    iterations: int = Field(5, ge=1, description="T: refinement iterations.")
    minibatch: int = Field(64, ge=1, description="Training items every student answers with every set, per iteration.")
    reflections: int = Field(4, ge=1, description="G: reflections per set, each on its own sample of failures.")
    failures: int = Field(4, ge=1, description="F: failures each reflection looks at.")
    proposals: int = Field(2, ge=1, description="Revised sets proposed per reflection.")
    children: int = Field(8, ge=1, description="C: at most this many new sets per parent (parents are kept).")
    score_sample: int = Field(64, ge=1, description="Training items the teacher answers to score every candidate set.")
    heldout: int | None = Field(None, ge=1, description="Held-out items the best set is scored on (None: all).")
    metric: Metric = Field("f1", description="The selection and held-out score: F1 of the positive class "
                           "(binary tasks; the paper) or accuracy (the original code; the toy task).")
    runs: int = Field(3, ge=1, description="Independent runs (the paper: 14); figures are mean ± standard error.")
    answer: SamplingParams = Field(default_factory=lambda: SamplingParams(temperature=0.0, max_tokens=48),
                                   description="How students and the teacher answer items (0: greedy).")
    solution: SamplingParams = Field(default_factory=lambda: SamplingParams(temperature=1.0, max_tokens=48),
                                     description="How the teacher samples worked solutions (init: teacher; the toy operator).")
    llm: LLMOperatorParams = Field(default_factory=LLMOperatorParams)

    @field_validator("settings")
    @classmethod
    def _non_empty(cls, settings: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, models in settings.items():
            if not models or len(set(models)) != len(models):
                raise ValueError(f"setting {name!r} needs one or more distinct models")
        return settings

    @model_validator(mode="after")
    def _failures_fit(self) -> "M3Params":
        if self.failures > self.minibatch:
            raise ValueError("m3.failures cannot exceed m3.minibatch")
        return self


def model_configs(params: Params) -> dict[str, ModelConfig]:
    """Every model M3 runs, by name: the teacher and each setting's students (teachers or students)."""
    p = params.m3
    teacher = p.teacher or next(iter(params.teachers))
    if teacher not in params.teachers:
        raise ParamsError(f"params.yaml: `m3.teacher`: {teacher!r} is not a key of `teachers`.")
    known = {**params.students, **params.teachers}
    out = {teacher: params.teachers[teacher]}
    for setting, names in p.settings.items():
        for name in names:
            if name not in known:
                raise ParamsError(f"params.yaml: `m3.settings.{setting}`: {name!r} is neither a teacher nor a student; "
                                  f"the models are {', '.join(known)}.")
            if name in params.teachers and name in params.students and params.teachers[name] != params.students[name]:
                raise ParamsError(f"params.yaml: `m3.settings.{setting}`: {name!r} names both a teacher and a "
                                  "different student; rename one.")
            out[name] = known[name]
    return out
