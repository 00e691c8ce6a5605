"""The toy-code world: groups, programs the sandbox runs, the teacher's flaws as failing code,
the curriculum in the pipeline's prompt layout, and one revision through the teaching core."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from lbt.engines.base import Completion
from lbt.toy.code.task import ToyCodeTask
from lbt.teaching.config import SamplingParams
from lbt.teaching.revision import revise
from lbt.toy.code.config import ToyCodeGroups, ToyCodeParams
from lbt.toy.code.curriculum import CodeCurriculum
from lbt.toy.code.world import ToyCodeWorld, program
from lbt.toy.world import ToyWorld, ToyWorldConfig

CONFIG = ToyCodeParams(groups=ToyCodeGroups(n_groups=3, group_size=3))
WORLD = ToyWorldConfig(n_verbs=8, bad_verb_fraction=0.5)


@pytest.fixture(scope="module")
def task():
    with ToyCodeTask(CONFIG, WORLD) as task:
        yield task


@pytest.fixture(scope="module")
def problems(task) -> pl.DataFrame:
    return task.load_problems()


def test_groups_share_verbs_and_exams_are_the_rest_of_the_group(task, problems):
    assert problems.height == 9 and problems["problem_id"].n_unique() == 9
    for _, group in problems.group_by("family_id"):
        verbs = [set(q.split()[1:]) for q in group["question"]]
        assert len(set().union(*verbs)) == 3 and all(len(a & b) >= 1 for a in verbs for b in verbs)
    exams = task.exam_sets(problems, __import__("lbt.tasks.base", fromlist=["SPLITS"]).SPLITS["eval"])
    assert exams.height == 9 * 2


def test_true_programs_pass_and_wrong_beliefs_fail_in_the_sandbox(task, problems):
    world = ToyCodeWorld(ToyWorld(WORLD), CONFIG)
    wrong = [program(tuple(q.split()[1:]), tuple(world.world.wrong_op.get(v, world.world.true_op[v])
                                                 for v in q.split()[1:])) for q in problems["question"]]
    flawed = [w != s for w, s in zip(wrong, problems["solution"])]
    golds = task.golds(problems)
    assert task.grade_many(problems["solution"].to_list(), golds) == [1.0] * 9
    assert task.s_scores(problems["solution"].to_list(), problems) == [1.0] * 9
    assert any(flawed)
    s_wrong = task.s_scores(wrong, problems)
    assert all(s < 1.0 for s, f in zip(s_wrong, flawed) if f)  # 8 hidden tests catch a wrong operation
    feedback = task.feedback([wrong[i] for i in range(9)], golds)
    assert all(f.startswith("assert candidate (") or f == "error" for f, bad in zip(feedback, flawed) if f)
    assert task.extract_answer("junk def solve ( x0 ) : return x0") == "def solve ( x0 ) : return x0\n"
    assert task.extract_answer("no program") is None


def test_curriculum_speaks_the_pipelines_prompt_layout(task):
    world = ToyCodeWorld(ToyWorld(WORLD), CONFIG)
    rng = random.Random(0)
    teacher, student = CodeCurriculum(world, "teacher"), CodeCurriculum(world, "student")
    prompt, code = teacher.teacher_example(rng)
    assert prompt == task.teacher_prompt(prompt.split(" R")[0], [], False)["prompt"]
    revision, retry = teacher.teacher_revision(rng)
    first, failed_and_test = revision.split(" R ", 1)
    failed, test = failed_and_test.rsplit(" E ", 1)
    assert revision == task.revision_prompt({"prompt": first + " R"}, failed, test.removesuffix(" R"), False)["prompt"]
    assert retry != failed and set(w for p in (prompt, code, revision) for w in p.split()) <= set(world.vocabulary())
    exam, answer = student.student_example(rng)
    assert exam.count(" | ") == 1 and answer.startswith("def solve (")


class ScriptedEngine:
    """A test double for a model: answers every revision with the true program of its TP."""

    name = "scripted"

    def __init__(self, solutions: dict[str, str]):
        self.solutions, self.prompts = solutions, []

    def generate(self, requests, desc=""):
        self.prompts += [r.prompt for r in requests]
        return [[Completion(self.solutions[r.prompt.split(" R ")[0]], 30)] for r in requests]


def test_revise_replaces_only_failing_rows_and_regrades_them(task, problems):
    solutions = dict(zip(problems["question"], problems["solution"]))
    rows = problems.head(2)
    texts = ["def solve ( x0 , x1 , x2 ) : return 0", rows["solution"][1]]
    table = pl.DataFrame({"tp_id": rows["problem_id"], "text": texts, "answer": texts, "n_tokens": [5, 7],
                          "grade": [0.0, 1.0], "correct": [False, True]})
    prompts = [task.teacher_prompt(q, [], False) for q in rows["question"]]
    engine = ScriptedEngine(solutions)
    out = revise(task, engine, False, table, prompts, task.golds(rows), SamplingParams(), 0, "test")
    assert out["revised"].to_list() == [True, False] and out["correct"].all()
    assert out["text"][0] == rows["solution"][0] and out["n_tokens"].to_list() == [35, 7]
    assert len(engine.prompts) == 1 and " E assert candidate (" in engine.prompts[0]
    assert json.loads(rows["visible_tests"][0])[0] in engine.prompts[0] or "error" in engine.prompts[0]
