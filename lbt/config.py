"""The typed schema of params.yaml and its one loader.

Every key is declared here (or in the module it configures); an unknown key, a wrong type or
an out-of-range value stops the run before any work with one sentence naming the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lbt.engines.config import HFModel, ModelConfig
from lbt.tasks.math import MathPromptConfig
from lbt.toy.config import ToyTrainConfig, ToyWorldConfig

SELECTION_METHODS = ("greedy", "sc", "m1_max", "m1_sum", "m1_avg")


class ParamsError(ValueError):
    """A problem with params.yaml that the user can fix; the message is one sentence."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToyParams(_Section):
    world: ToyWorldConfig = Field(default_factory=ToyWorldConfig)
    train: ToyTrainConfig = Field(default_factory=ToyTrainConfig)


class SamplingParams(_Section):
    temperature: float = Field(1.0, ge=0, description="0 is greedy.")
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0, description="0 turns top-k off.")
    max_tokens: int = Field(64, ge=1)


class RationaleParams(SamplingParams):
    num_rationales: int = Field(16, ge=1, description="Sampled TRs per TP.")


class ExamParams(SamplingParams):
    repeats: int = Field(1, ge=1, description="Times each EP is answered per TR and student.")
    max_eps: int | None = Field(None, ge=1, description="Use at most this many EPs per TP (None: all).")


class SelectionParams(_Section):
    methods: list[Literal[SELECTION_METHODS]] = Field(default_factory=lambda: list(SELECTION_METHODS))
    resample_sizes: list[int] = Field(
        default_factory=lambda: [1, 2, 4, 8, 16],
        description="Numbers of TRs per TP for the accuracy-vs-N analysis (subsets of the N sampled).",
    )
    resample_trials: int = Field(50, ge=1, description="Random subsets drawn per size.")

    @model_validator(mode="after")
    def _positive_sizes(self) -> "SelectionParams":
        if any(n < 1 for n in self.resample_sizes):
            raise ValueError("every resample size must be at least 1")
        return self


class MathParams(_Section):
    raw_dir: str = Field(
        "../shared/datasets", description="Folder holding math500/, MATH/ and fneval/ (see the README)."
    )
    grouping: Literal["equivalence", "exact"] = Field(
        "equivalence",
        description="How SC and M1 group answers: by math equivalence, or by exact string as in "
        "the paper. The selection stage reports both; this one is the headline.",
    )
    prompt: MathPromptConfig = Field(default_factory=MathPromptConfig)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def _named(models: dict[str, ModelConfig], what: str) -> dict[str, ModelConfig]:
    for key, model in models.items():
        if not _NAME.match(key) or "__" in key:
            raise ValueError(
                f"{what} name {key!r} must start with a letter or digit and use only letters, digits, "
                "'_', '.', '+', '-' (no '__'): it names files and DVC stages"
            )
        model.name = key
    return models


class Params(_Section):
    task: Literal["toy", "math"] = Field("toy", description="Which task the pipeline runs.")
    seed: int = Field(0, description="Base seed: every sample's seed derives from it and the ids.")
    cache_path: str = Field(".cache/lbt/generations.sqlite", description="The request cache (SQLite).")
    toy: ToyParams = Field(default_factory=ToyParams)
    math: MathParams = Field(default_factory=MathParams)
    teachers: dict[str, ModelConfig] = Field(
        default_factory=lambda: {"teacher": HFModel(path="data/models/teacher")}, min_length=1,
        description="Teacher models by name; each gets its own rationales stage.",
    )
    students: dict[str, ModelConfig] = Field(
        default_factory=lambda: {"student": HFModel(path="data/models/student")}, min_length=1,
        description="Student models by name; every (teacher, student) pair gets an exams stage.",
    )
    rationales: RationaleParams = Field(default_factory=lambda: RationaleParams(max_tokens=48))
    exam: ExamParams = Field(default_factory=lambda: ExamParams(max_tokens=48))
    selection: SelectionParams = Field(default_factory=SelectionParams)

    @model_validator(mode="after")
    def _name_models(self) -> "Params":
        _named(self.teachers, "teacher")
        _named(self.students, "student")
        return self


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path} not found: run from the project root or pass the path of params.yaml.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ParamsError(f"{path} is not valid YAML: {err}".replace("\n", " ")) from None
    return parse_params(raw, source=str(path))


def parse_params(raw: dict[str, Any], source: str = "params.yaml") -> Params:
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(describe_error(err, raw, source)) from None


def describe_error(err: ValidationError, raw: dict[str, Any], source: str) -> str:
    """The first validation error as one sentence naming the key and what is allowed."""
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"] if not str(p).startswith(("function-", "tagged-union"))]
    loc = [p for p in loc if p not in ("hf", "vllm", "openai") or p == loc[-1]]
    key = ".".join(loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key `{key}`; check its spelling against the documented keys in the README."
    got = first.get("input")
    shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
    return f"{source}: `{key}`: {first['msg']}{shown}."
