"""The toy section of params.yaml (`toy.world`, `toy.problems`, `toy.student`, `toy.train`); light imports only."""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from lbt.schema import StrictModel

VERB_NAMES = (
    "blip zork frob quax daxo wug lorp snib tove gimp yerk mube vasp kril tazz pomp "
    "nerf glim huzz jolt wibb fump sarn klee"
).split()
# Words of the world that are not verbs (the operations and the markers of the prompt layout):
# a persona's name must be none of them, nor a verb.
OPERATION_NAMES = ("add", "sub", "mul", "max", "min", "dif")
# A second name for each operation (`toy.world.true_op_names: 2`): the teacher writes a bad verb's
# true operation under either name, so its belief splits between two words.
OPERATION_ALIASES = {"add": "plus", "sub": "less", "mul": "times", "max": "most", "min": "least", "dif": "gap"}
MARKERS = ("Q", "R", "A", ";", "|")
_PERSONA_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ToyWorldConfig(StrictModel):
    """The world's verbs and the teacher's flaws (`toy.world`)."""

    n_verbs: int = Field(16, ge=2, le=len(VERB_NAMES), description="Verbs (procedures) in the world.")
    n_steps: int = Field(2, ge=1, le=4, description="Verbs chained in one problem.")
    bad_verb_fraction: float = Field(0.34, ge=0, le=1, description="Share of verbs the teacher gets wrong.")
    teacher_wrong_prob: float = Field(
        0.4, ge=0, le=1, description="How often the teacher uses the wrong operation on a bad verb."
    )
    true_op_names: Literal[1, 2] = Field(
        2, description="Names under which the teacher writes a bad verb's true operation, evenly (2: its belief "
        "splits, so the wrong operation is its single most likely word while the true one gives the most likely "
        "answer whenever teacher_wrong_prob is between 1/3 and 1/2: greedy decoding is wrong, self-consistency "
        "rises with more samples, as with real models that reach a right answer by several paths).")
    wrong_op: Literal["random", "distinct", "confusable"] = Field(
        "random", description="The teacher's wrong operation for a bad verb: any other one (random), the one that "
        "least often gives the same digit as the true one (distinct: a wrong method seldom reaches the right answer "
        "by chance, so a wrong TR's exams fail and its answer is a vote against the truth), or the one that most "
        "often does (confusable: a wrong method that often reaches the right answer, which correctness cannot "
        "catch and LbT can).")
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


class PersonaConfig(StrictModel):
    """One student persona's flaws (`toy.student.personas.<name>`)."""

    flawed_verbs: list[str] = Field(
        default_factory=list,
        description="Verbs on which this persona does not learn from its examples: it uses its own belief "
                    "(the true operation) whatever the examples show.",
    )
    follow_prob: float | None = Field(
        None, ge=0, le=1, description="This persona's follow probability (null: `toy.student.follow_prob`).",
    )


class ToyStudentConfig(StrictModel):
    """How the toy student learns from its examples (`toy.student`), and the personas it plays."""

    follow_prob: float = Field(
        1.0, ge=0, le=1,
        description="How often the student follows its examples' operations (0: it ignores them, the control).",
    )
    personas: dict[str, PersonaConfig] = Field(
        default_factory=dict,
        description="Students the one student model plays, by persona token (the first word of the prompt: "
                    "a student entry selects one with `prompt_prefix: <name>`); empty: no persona token.",
    )

    @field_validator("personas")
    @classmethod
    def _persona_names(cls, personas: dict[str, PersonaConfig]) -> dict[str, PersonaConfig]:
        taken = {*VERB_NAMES, *OPERATION_NAMES, *OPERATION_ALIASES.values(), *MARKERS}
        for name in personas:
            if not _PERSONA_NAME.match(name) or name in taken:
                raise ValueError(f"persona name {name!r} must be one lowercase word (letters, digits, '_') that is "
                                 "not a verb or an operation of the toy world")
        return personas

    def persona_follow_prob(self, name: str) -> float:
        own = self.personas[name].follow_prob
        return self.follow_prob if own is None else own


class ToyTrainConfig(StrictModel):
    """The tiny models and their training (`toy.train`); training stops early once the probe passes."""

    n_layer: int = Field(2, ge=1)
    n_embd: int = Field(64, ge=8)
    n_head: int = Field(4, ge=1)
    n_positions: int = Field(160, ge=16, description="Longest prompt + completion the models take, in words.")
    steps: int = Field(1200, ge=1, description="Most optimizer steps (training stops earlier once the probe passes).")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0)
    warmup_steps: int = Field(50, ge=0)
    max_demos: int = Field(4, ge=1, description="Most worked examples in one training prompt (M3 shows several).")
    fewshot_prob: float = Field(
        0.3, ge=0, le=1,
        description="Share of batches with several examples of any families (the teacher's other batches are "
                    "zero-shot; the student's show one example of the question's family, M1's exam layout).",
    )
    longest_chain: int = Field(
        3, ge=0, le=4, description="Training problems and examples chain 1 to this many verbs (0: the world's "
        "n_steps, all alike): with lengths that vary, a verb's example is never at the same place, so the models "
        "learn to find it by its words (with all alike they copy from a fixed distance, and fail as soon as "
        "another example comes between).")
    demo_labels: bool = Field(
        True, description="Also train on the examples' rationales in the prompt (all but their operations).")
    probe_every: int = Field(50, ge=1, description="Steps between probes of the skills on held-out prompts.")
    probe_size: int = Field(256, ge=1, description="Held-out prompts per probe.")
    stop_accuracy: float | None = Field(
        0.6, gt=0, le=1,
        description="Start the final cooldown (then stop) once greedy decoding reproduces this share of the "
                    "probe's expected rationales (null: train all `steps`).",
    )
    stop_patience: int = Field(
        2, ge=1, description="Probes in a row that must reach `stop_accuracy` before the cooldown starts.")
    cooldown_steps: int = Field(150, ge=0, description="Steps of the final linear decay of the learning rate to 0 "
                                "(the probe is then taken again: training goes on if it no longer passes).")
    processes: int = Field(
        2, ge=1, description="Models trained at once, one CPU thread each (set it to the cores you have)."
    )


class ToyParams(StrictModel):
    """The `toy` section: the toy world, its problems, its student, and the tiny models' training."""

    world: ToyWorldConfig = Field(default_factory=ToyWorldConfig)
    problems: ToyProblemsConfig = Field(default_factory=ToyProblemsConfig)
    student: ToyStudentConfig = Field(default_factory=ToyStudentConfig)
    train: ToyTrainConfig = Field(default_factory=ToyTrainConfig)

    @model_validator(mode="after")
    def _flawed_verbs_exist(self) -> "ToyParams":
        check_flawed_verbs(self.world, self.student)
        return self


def check_flawed_verbs(world: ToyWorldConfig, student: ToyStudentConfig) -> None:
    """Every persona's flawed verbs are verbs of the world (ValueError naming the key otherwise)."""
    verbs = VERB_NAMES[: world.n_verbs]
    for name, persona in student.personas.items():
        unknown = [v for v in persona.flawed_verbs if v not in verbs]
        if unknown:
            raise ValueError(f"toy.student.personas.{name}.flawed_verbs: {unknown[0]!r} is not one of the "
                             f"world's {world.n_verbs} verbs ({' '.join(verbs)})")


def check_persona_students(student: ToyStudentConfig, students: dict, student_folder: str) -> None:
    """Every student entry that runs the toy student model (`student_folder`) names one of its
    personas in `prompt_prefix` (none when no personas are configured): ValueError naming the key."""
    names = sorted(student.personas)
    for key, model in students.items():
        if os.path.normpath(getattr(model, "path", "")) != os.path.normpath(student_folder):
            continue
        prefix = model.prompt_prefix
        if names and prefix not in names:
            raise ValueError(f"students.{key}.prompt_prefix: {prefix!r} is not a persona of the toy student "
                             f"model; set it to one of toy.student.personas ({', '.join(names)})")
        if not names and prefix:
            raise ValueError(f"students.{key}.prompt_prefix: the toy student model plays no personas "
                             f"(toy.student.personas is empty); remove the prefix or add a persona {prefix!r}")
