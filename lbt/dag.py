"""A stage of the DVC graph as the room that owns it declares it (`stages(params)` in each
room's `dag` module); `lbt.pipeline` composes them and writes dvc.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field

from lbt.engines.config import ModelConfig, OpenAIModel


@dataclass
class Stage:
    name: str
    notebook: str  # under notebooks/, without .ipynb ("" for the check stage)
    reads: list[str]
    deps: list[str] = field(default_factory=list)
    outs: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)  # PNG figures: `dvc plots show` needs no script for them
    args: dict[str, str] = field(default_factory=dict)
    models: list[ModelConfig] = field(default_factory=list)  # the models it runs
    html: str | None = None
    command: list[str] = field(default_factory=list)  # `python -m <module> <args>` instead of a notebook
    reported: list[str] = field(default_factory=list)  # its files the report stage reads


def model_folder(model: ModelConfig) -> str | None:
    """A local model's folder (a DVC dependency); API models have none."""
    return None if isinstance(model, OpenAIModel) else model.path


def split_prefix(stage: str, split: str) -> str:
    """`rationales` on the eval split (M1's stage names), `rationales_train` on the training split."""
    return stage if split == "eval" else f"{stage}_{split}"
