"""Tasks by name: the one registration of each task (`TASKS`), which maps `task:` in params.yaml
to its Task class, its params section and what the pipeline runs on it. Plain data: the params
loader, the pipeline and `lbt.tasks.make` read it without importing any task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Training:
    """A task whose tiny models are trained first (stage `train_toy`): its notebook, the sections it reads."""

    notebook: str
    reads: tuple[str, ...]
    personas: bool = False  # the student model plays the personas of `toy.student` (students name one)


@dataclass(frozen=True)
class TaskSpec:
    task: str  # "module:Class" of its Task (imported only when a stage makes the task)
    section: str  # its own params section, and that section's schema ("module:attribute")
    schema: str
    problems: tuple[str, ...]  # the sections its problems are built from (the prepare stage)
    answers: tuple[str, ...]  # the sections that prompting, grading and grouping answers read
    report: tuple[str, ...]  # the sections the report reads for its summary
    exams: bool = True  # teaching problems with exams: M1's and M2's stages run on it
    programs: bool = False  # answers are programs: V- and S-scores, self-debugging, the select_code stage
    training: Training | None = None

    @property
    def module(self) -> str:
        return self.task.split(":")[0]


_TOY_TRAINING = ("seed", "toy.world", "toy.train", "toy.student")
TASKS: dict[str, TaskSpec] = {
    "toy": TaskSpec("lbt.toy.task:ToyTask", "toy", "lbt.toy.config:ToyParams", ("toy.world", "toy.problems"),
                    (), ("toy",), training=Training("toy/train", _TOY_TRAINING, personas=True)),
    "math": TaskSpec("lbt.tasks.math:MathTask", "math", "lbt.tasks.math.config:MathParams", ("math",), ("math",),
                     ("math",)),
    "code": TaskSpec("lbt.tasks.code:CodeTask", "code", "lbt.tasks.code.config:CodeParams", ("code",), ("code",),
                     ("code",), programs=True),
    "toy_code": TaskSpec("lbt.toy.code.task:ToyCodeTask", "toy_code", "lbt.toy.code.config:ToyCodeParams",
                         ("toy.world", "toy_code"), ("toy_code",), ("toy", "toy_code"), programs=True,
                         training=Training("toy/train_code", (*_TOY_TRAINING, "toy_code"))),
    "classify": TaskSpec("lbt.tasks.classify:ClassifyTask", "classify", "lbt.tasks.classify.config:ClassifyParams",
                         ("classify",), ("classify",), ("classify",), exams=False),
}
TaskName = Literal[tuple(TASKS)]  # type: ignore[valid-type]  # the `task` section: one of TASKS
