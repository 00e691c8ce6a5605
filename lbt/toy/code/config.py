"""The `toy_code` section of params.yaml (used when `task: toy_code`); light imports only. The
verbs, the teacher's flaws and the tiny models' size come from the `toy` section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lbt.schema import StrictModel
from lbt.tasks.code.config import CodeSandboxParams


class ToyCodeGroups(StrictModel):
    """Groups of similar problems (`toy_code.groups`): chains over a few shared verbs."""

    n_groups: int = Field(30, ge=1, description="Groups; every problem of a group is a TP, its exam the others.")
    group_size: int = Field(4, ge=2, description="Problems per group.")
    group_verbs: int = Field(3, ge=1, description="Verbs a group's chains are drawn from (chains of toy.world.n_steps "
                             "distinct verbs), so the problems of a group share verbs.")
    seed: int = Field(0, description="Seed of the groups and their tests.")


class ToyCodeTests(StrictModel):
    """Tests per problem (`toy_code.tests`): random digit inputs, checked against the true chain."""

    visible: int = Field(2, ge=1, description="Visible tests (the V-score; the feedback of self-debugging).")
    hidden: int = Field(8, ge=1, description="Hidden tests (the S-score).")


class ToyCodeTraining(StrictModel):
    """What the tiny models learn besides writing code (`toy_code.training`)."""

    debug_share: float = Field(0.3, ge=0, le=1, description="Share of training batches that teach self-debugging: "
                               "a failed program and its failing test, then a revision.")
    student_fix_prob: float = Field(0.5, ge=0, le=1, description="How often the student, revising a failed exam "
                                    "answer, replaces an operation it took from its example by its own (true) one.")


class ToyCodeParams(StrictModel):
    """The `toy_code` section: groups, tests, self-debugging in training, grading."""

    groups: ToyCodeGroups = Field(default_factory=ToyCodeGroups)
    tests: ToyCodeTests = Field(default_factory=ToyCodeTests)
    training: ToyCodeTraining = Field(default_factory=ToyCodeTraining)
    grade: Literal["v_score", "pass_rate"] = Field("v_score", description="An answer's grade on its visible tests "
                                                   "(what LbT scores average): v_score (the paper's) or pass_rate.")
    sandbox: CodeSandboxParams = Field(default_factory=lambda: CodeSandboxParams(timeout_s=5.0, memory_mb=512),
                                       description="Sandbox limits.")
