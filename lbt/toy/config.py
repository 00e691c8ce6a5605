"""The toy section of params.yaml (`toy.world`, `toy.problems`, `toy.student`, `toy.train`); light imports only."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lbt.schema import StrictModel

VERB_NAMES = (
    "blip zork frob quax daxo wug lorp snib tove gimp yerk mube vasp kril tazz pomp "
    "nerf glim huzz jolt wibb fump sarn klee"
).split()


class ToyWorldConfig(StrictModel):
    """The world's verbs and the teacher's flaws (`toy.world`)."""

    n_verbs: int = Field(16, ge=2, le=len(VERB_NAMES), description="Verbs (procedures) in the world.")
    n_steps: int = Field(2, ge=1, le=4, description="Verbs chained in one problem.")
    bad_verb_fraction: float = Field(0.34, ge=0, le=1, description="Share of verbs the teacher gets wrong.")
    teacher_wrong_prob: float = Field(
        0.6, ge=0, le=1, description="How often the teacher uses the wrong operation on a bad verb."
    )
    wrong_op: Literal["random", "confusable"] = Field(
        "random", description="The teacher's wrong operation for a bad verb: any other one (random), or the one "
        "that most often gives the same digit as the true one (confusable: a wrong method that often reaches the "
        "right answer, which correctness cannot catch and LbT can).")
    teacher_slip_prob: float = Field(
        0.0, ge=0, le=1, description="How often the teacher miscomputes a step's result (right operation named, "
        "wrong digit carried on): a sound procedure with a wrong answer.")
    seed: int = Field(0, description="Seed of the world: verbs' operations, bad verbs, problems.")


class ToyProblemsConfig(StrictModel):
    """How many problems the toy task draws (`toy.problems`)."""

    n_tp: int = Field(150, ge=1, description="Teaching problems (one family each).")
    n_ep: int = Field(3, ge=1, description="Exam problems (functional variants) per teaching problem.")
    n_train_families: int = Field(60, ge=0, description="Families kept apart for training (M2, M3).")
    n_pool_families: int = Field(0, ge=0, description="Other families whose problems (n_ep each) form a pool "
                                 "for exams by similarity (`exam.maker: similar`).")


class ToyStudentConfig(StrictModel):
    """How the toy student learns from its example (`toy.student`)."""

    follow_prob: float = Field(
        1.0, ge=0, le=1,
        description="How often the student follows its example's operations (0: it ignores the example).",
    )


class ToyTrainConfig(StrictModel):
    n_layer: int = Field(3, ge=1)
    n_embd: int = Field(96, ge=8)
    n_head: int = Field(4, ge=1)
    steps: int = Field(1200, ge=1, description="Optimizer steps.")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0)
    warmup_steps: int = Field(50, ge=0)
    teacher_fewshot_prob: float = Field(
        0.3, ge=0, le=1, description="Share of the teacher's training prompts that carry exemplars."
    )
    processes: int = Field(
        2, ge=1, description="Models trained at once, one CPU thread each (set it to the cores you have)."
    )


class ToyParams(StrictModel):
    """The `toy` section: the toy world, its problems, its student, and the tiny models' training."""

    world: ToyWorldConfig = Field(default_factory=ToyWorldConfig)
    problems: ToyProblemsConfig = Field(default_factory=ToyProblemsConfig)
    student: ToyStudentConfig = Field(default_factory=ToyStudentConfig)
    train: ToyTrainConfig = Field(default_factory=ToyTrainConfig)
