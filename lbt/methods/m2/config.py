"""The `m2` section of params.yaml: which teacher learns from which students, how TRs become
preference pairs, DPO's hyper-parameters and the evaluation (light imports only).

The pipeline's stages read it in parts (`m2.teacher`, `m2.pairs`, `m2.dpo`, ...), so that a
change to DPO's learning rate never re-samples a rationale or re-runs an exam."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from lbt.config import ParamsError
from lbt.engines.config import ModelConfig, OpenAIModel
from lbt.schema import StrictModel

if TYPE_CHECKING:
    from lbt.config import Params

# The two pair sets: the paper's M2 (0.5·correct + 0.5·LbT) and its correctness-only baseline.
PAIR_SETS = ("correctness_dpo", "m2")
PairSet = Literal["correctness_dpo", "m2"]


class PairParams(StrictModel):
    """How scored TRs of one training TP become preference pairs (`m2.pairs`)."""

    alpha: float = Field(0.5, ge=0, le=1, description="M2's score = alpha·grade(TA) + (1 − alpha)·LbT score.")
    threshold: float = Field(0.3, ge=0, lt=1, description="A pair's scores must differ by more than this.")
    max_per_tp: int = Field(8, ge=1, description="At most this many pairs per training TP (largest gaps first).")


class LoraParams(StrictModel):
    """LoRA adapters (peft) instead of full fine-tuning; merged into the saved model folder."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names to adapt, or all-linear.")


class DPOParams(StrictModel):
    """DPO with an NLL term on the chosen response (`m2.dpo`; the paper: beta 0.1, lr 5e-7, batch 16, 1 epoch)."""

    beta: float = Field(0.1, gt=0, description="DPO's beta (strength of the pull toward the original model).")
    learning_rate: float = Field(5e-7, gt=0)
    lr_scheduler: Literal["constant", "linear", "cosine"] = "linear"
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    batch_size: int = Field(16, ge=1, description="Pairs per optimizer step (per-device batch x accumulation).")
    gradient_accumulation_steps: int = Field(1, ge=1, description="Steps a batch is split over (memory).")
    epochs: float = Field(1.0, gt=0)
    nll_weight: float = Field(1.0, ge=0, description="Weight of the NLL term on the chosen response (0: plain DPO).")
    max_length: int = Field(1024, ge=8, description="Most tokens of prompt + response (longer ones are cut).")
    lora: LoraParams | None = Field(None, description="null: full fine-tuning (toy models); else LoRA via peft.")
    pad_token: str | None = Field(None, description="Token to pad with when the teacher's tokenizer has none "
                                  "(e.g. its EOS token).")
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="Weights' dtype in training.")
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory (big models on a GPU).")
    device: str = Field("cpu", description="torch device for training, e.g. cpu or cuda:0.")
    threads: int = Field(1, ge=1, description="CPU threads for training on the CPU.")

    @model_validator(mode="after")
    def _divisible(self) -> "DPOParams":
        if self.batch_size % self.gradient_accumulation_steps:
            raise ValueError("batch_size must be a multiple of gradient_accumulation_steps")
        return self


class EvaluateParams(StrictModel):
    """Greedy accuracy of the original and tuned teachers on held-out problems (`m2.evaluate`)."""

    problems: Literal["eval_tps", "math500"] = Field(
        "eval_tps", description="eval_tps: the task's evaluation TPs; math500: all 500 MATH500 test problems.")
    max_tokens: int = Field(48, ge=1, description="Most tokens of each greedy rationale.")


class M2Params(StrictModel):
    """The `m2` section: M2 and its correctness-only baseline."""

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct")
        return seeds


    teacher: str = Field("teacher", description="The teacher to fine-tune: a name in `teachers` with a local folder.")
    students: list[str] | None = Field(None, description="Students whose exams score the training TRs (None: all).")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1,
                             description="Training seeds: each picks its pairs' tie order and DPO's data order.")
    num_rationales: int | None = Field(None, ge=2, description="TRs per training TP (None: rationales.num_rationales).")
    pairs: PairParams = Field(default_factory=PairParams)
    dpo: DPOParams = Field(default_factory=DPOParams)
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)


def m2_students(params: Params) -> list[str]:
    """The students whose exams score the training TRs (`m2.students`, default all)."""
    chosen = params.m2.students or list(params.students)
    unknown = [s for s in chosen if s not in params.students]
    if unknown:
        raise ParamsError(f"params.yaml: `m2.students` names {unknown[0]!r}, which is not in `students`.")
    return chosen


def m2_teacher(params: Params) -> ModelConfig:
    """The model of the teacher M2 fine-tunes (`m2.teacher`): one of `teachers`, with a local folder."""
    name = params.m2.teacher
    if name not in params.teachers:
        raise ParamsError(f"params.yaml: `m2.teacher` names {name!r}, which is not in `teachers`: use one of "
                          f"{', '.join(params.teachers)}.")
    check_teacher(name, params.teachers[name])
    return params.teachers[name]


def check_teacher(name: str, model: ModelConfig) -> None:
    if isinstance(model, OpenAIModel):
        raise ParamsError(f"m2.teacher `{name}` is served by an API (backend openai) and cannot be fine-tuned: "
                          "set m2.teacher to a teacher with a local model folder (backend hf or vllm).")
