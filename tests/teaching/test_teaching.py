"""The teaching core on a real tiny model: rationales and exams on either split, graded scores."""

from __future__ import annotations

import polars as pl
import pytest

from lbt.engines.config import HFModel
from lbt.engines.registry import make_engine
from lbt.tasks.base import SPLITS
from lbt.toy.task import ToyTask
from lbt.teaching.config import ExamParams, RationaleParams
from lbt.teaching.exams import exam_pairs, run_exam
from lbt.teaching.rationales import generate_rationales
from lbt.teaching.scores import exact_grades, lbt_scores
from lbt.toy.config import ToyParams, ToyProblemsConfig, ToyWorldConfig

N = 3


@pytest.fixture(scope="module")
def task() -> ToyTask:
    return ToyTask(ToyParams(world=ToyWorldConfig(n_verbs=6),
                             problems=ToyProblemsConfig(n_tp=4, n_ep=2, n_train_families=3)))


@pytest.fixture(scope="module")
def problems(task) -> pl.DataFrame:
    return task.load_problems()


@pytest.fixture(scope="module")
def engine(tiny_student, tmp_path_factory):
    with make_engine(HFModel(name="tiny", path=str(tiny_student)), tmp_path_factory.mktemp("c") / "c.sqlite") as e:
        yield e


@pytest.mark.parametrize("split,n_tps", [("eval", 4), ("train", 3)])
def test_rationales_cover_the_tps_of_a_split_with_their_prompts_and_grades(task, problems, engine, split, n_tps):
    p = RationaleParams(num_rationales=N, max_tokens=24)
    sampled, greedy = generate_rationales(task, engine, False, problems, SPLITS[split], p, base_seed=0)
    tps = problems.filter(pl.col("role") == SPLITS[split].tp_role)
    assert sampled.height == n_tps * N and greedy.height == n_tps
    assert set(sampled["tp_id"]) == set(tps["problem_id"])
    question = dict(zip(tps["problem_id"], tps["question"]))
    gold = dict(zip(tps["problem_id"], tps["answer"]))
    for row in sampled.iter_rows(named=True):
        assert row["prompt"] == task.render([], question[row["tp_id"]], False)["prompt"]
        assert row["answer"] == task.extract_answer(row["text"])
        assert row["correct"] == (row["answer"] == gold[row["tp_id"]]) == (row["grade"] == 1.0)
    assert (greedy["seed"] == 0).all() and (sampled["seed"] != 0).all()


def test_exams_on_the_training_split_use_its_exam_problems(task, problems, engine):
    sampled, _ = generate_rationales(task, engine, False, problems, SPLITS["train"],
                                     RationaleParams(num_rationales=N, max_tokens=24), base_seed=0)
    pairs = exam_pairs(task, problems, sampled, SPLITS["train"], max_eps=None)
    role = dict(zip(problems["problem_id"], problems["role"]))
    assert {role[e] for e in pairs["ep_id"]} == {"train_ep"}
    assert pairs.height == 3 * N * 2
    assert exam_pairs(task, problems, sampled, SPLITS["train"], max_eps=1).height == 3 * N


def test_identical_rationales_sit_identical_exams_and_score_alike(task, problems, engine):
    tp = problems.filter(pl.col("role") == "tp").row(0, named=True)
    text = tp["solution"]  # the same worked solution twice, and one with a wrong final step
    wrong = text.rsplit(" ", 1)[0] + " 9"
    rationales = pl.DataFrame({"tp_id": [tp["problem_id"]] * 3, "teacher": ["t"] * 3, "sample": [0, 1, 2],
                               "text": [text, text, wrong]})
    pairs = exam_pairs(task, problems, rationales, SPLITS["eval"], max_eps=None)
    answers = run_exam(task, engine, False, problems, pairs, ExamParams(repeats=2, max_tokens=24), base_seed=0)
    assert answers.height == 3 * 2 * 2  # 3 TRs x 2 EPs x 2 repeats
    by_sample = {s: part.sort("ep_id", "rep")["text"].to_list() for (s,), part in answers.group_by(["sample"])}
    assert by_sample[0] == by_sample[1]
    scores = lbt_scores(answers)
    assert scores["n_exams"].to_list() == [4, 4, 4]
    assert scores["score"][0] == scores["score"][1]


class HalfCreditToyTask(ToyTask):
    """A test double for a task with graded (non-binary) scores, as code's pass rates are: an
    answer one away from the gold gets 0.5."""

    def grade_many(self, answers, golds):
        return [1.0 if a == g else 0.5 if a is not None and abs(int(a) - int(g)) == 1 else 0.0
                for a, g in zip(answers, golds)]


def test_lbt_score_is_the_mean_grade_of_graded_exam_answers():
    exams = pl.DataFrame({"tp_id": ["a"] * 4, "teacher": ["t"] * 4, "sample": [0, 0, 1, 1], "student": ["s"] * 4,
                          "answer": ["3", "4", "3", None], "n_tokens": [5, 6, 7, 8]})
    graded = exams.with_columns(grade=pl.Series(HalfCreditToyTask().grade_many(exams["answer"].to_list(),
                                                                               ["3"] * 4)))
    scores = lbt_scores(graded)
    assert scores["score"].to_list() == [0.75, 0.5]
    # exactly: grade sums over a denominator common to the TP (halves), per exam answer
    assert scores.select("grade_sum", "grade_den", "n_exams", "exam_tokens").rows() == [(3, 2, 2, 11), (2, 2, 2, 15)]


def test_exact_grades_share_one_denominator_per_tp():
    exams = pl.DataFrame({"tp_id": ["a", "a", "a", "b"], "grade": [1 / 3, 0.5, 1.0, 1.0]})
    exact = exact_grades(exams)
    assert exact.select("grade_num", "grade_den").rows() == [(2, 6), (3, 6), (6, 6), (1, 1)]
