"""The toy world's structure: families, variants, the teacher's flaws, the task's grading."""

import random
from collections import Counter

import polars as pl

from lbt.tasks.base import PROBLEM_COLUMNS
from lbt.toy.config import OPERATION_ALIASES, ToyParams, ToyProblemsConfig
from lbt.toy.task import ToyTask
from lbt.toy.world import (MEANING, OPERATIONS, ToyWorld, ToyWorldConfig, parse_question, rationale_steps,
                           worked_rationale)


def test_problems_table_has_disjoint_families_and_variants():
    config = ToyParams(problems=ToyProblemsConfig(n_tp=20, n_ep=3, n_train_families=10))
    problems = ToyTask(config).load_problems()
    assert problems.columns[: len(PROBLEM_COLUMNS)] == list(PROBLEM_COLUMNS)
    counts = dict(problems.group_by("role").len().iter_rows())
    assert counts == {"tp": 20, "ep": 60, "train": 10, "train_ep": 30}
    eval_fams = set(problems.filter(pl.col("role").is_in(["tp", "ep"]))["family_id"])
    train_fams = set(problems.filter(pl.col("role").is_in(["train", "train_ep"]))["family_id"])
    assert not eval_fams & train_fams
    assert problems["problem_id"].n_unique() == problems.height
    # variants share the family's verbs but not its digits
    fam = problems.filter(pl.col("family_id") == problems["family_id"][0])
    assert fam["question"].n_unique() == 4
    assert len({tuple(q.split()[1:3]) for q in fam["question"]}) == 1


def test_answers_follow_the_true_operations():
    world = ToyWorld(ToyWorldConfig())
    problem = parse_question("Q blip zork 3 7 5")
    ops = world.true_ops(problem)
    expected = OPERATIONS[ops[1]](OPERATIONS[ops[0]](3, 7), 5)
    assert world.answer(problem) == str(expected)
    assert worked_rationale(problem, ops).endswith(f"A {expected}")


def test_teacher_is_wrong_on_bad_verbs_at_the_configured_rate_and_splits_the_truth_over_two_names():
    world = ToyWorld(ToyWorldConfig(bad_verb_fraction=0.5, teacher_wrong_prob=0.45))
    assert len(world.wrong_op) == 8
    rng = random.Random(0)
    verb = next(iter(world.wrong_op))
    words = Counter(world.teacher_op(verb, rng) for _ in range(4000))
    true, wrong = world.true_op[verb], world.wrong_op[verb]
    assert set(words) == {true, OPERATION_ALIASES[true], wrong}
    assert abs(words[wrong] / 4000 - 0.45) < 0.03
    # greedy decoding of this belief picks the wrong word, yet the true operation is the likelier answer
    assert words.most_common(1)[0][0] == wrong and words[true] + words[OPERATION_ALIASES[true]] > words[wrong]
    assert MEANING[OPERATION_ALIASES[true]] == true
    good = next(v for v in world.verbs if v not in world.wrong_op)
    assert all(world.teacher_op(good, rng) == world.true_op[good] for _ in range(100))
    one_name = ToyWorld(ToyWorldConfig(bad_verb_fraction=0.5, teacher_wrong_prob=0.45, true_op_names=1))
    assert {one_name.teacher_op(verb, rng) for _ in range(200)} == {true, wrong}


def test_a_rationale_may_name_an_operation_by_its_alias():
    problem = parse_question("Q blip zork 3 7 5")
    plain, aliased = worked_rationale(problem, ("add", "mul")), worked_rationale(problem, ("plus", "times"))
    assert aliased == plain.replace("add", "plus").replace("mul", "times")
    assert rationale_steps(aliased) == [("blip", "plus"), ("zork", "times")]


def test_answer_extraction_counts_garbage_as_no_answer():
    task = ToyTask()
    assert task.extract_answer("blip add 3 7 0 ; A 0") == "0"
    assert task.extract_answer("blip add 3 7 0 ; A") is None
    assert task.extract_answer("A zork") is None
    assert task.extract_answer("") is None
    assert task.grade_many([None, "3", " 3 ", "4"], ["3", "3", "3", "3"]) == [0.0, 1.0, 1.0, 0.0]


def test_exams_are_the_functional_variants_of_each_tp_in_its_split():
    from lbt.tasks.base import SPLITS

    task = ToyTask(ToyParams(problems=ToyProblemsConfig(n_tp=5, n_ep=3, n_train_families=4)))
    problems = task.load_problems()
    family = dict(zip(problems["problem_id"], problems["family_id"]))
    role = dict(zip(problems["problem_id"], problems["role"]))
    for split, tps, ep_role in ((SPLITS["eval"], 5, "ep"), (SPLITS["train"], 4, "train_ep")):
        sets = task.exam_sets(problems, split)
        assert sets["tp_id"].n_unique() == tps and sets.height == 3 * tps
        assert all(family[t] == family[e] and role[e] == ep_role for t, e in sets.iter_rows())
    assert task.exam_sets(problems, SPLITS["eval"], max_eps=2).height == 2 * 5


def test_curriculum_is_the_same_in_every_process():
    """Training data must not depend on Python's per-process string hash seed."""
    import subprocess
    import sys

    code = ("import random; from lbt.toy.world import ToyWorld, ToyWorldConfig; from lbt.toy.config import "
            "ToyTrainConfig; from lbt.toy.curriculum import Persona, training_batch; w = ToyWorld(ToyWorldConfig()); "
            "r, t = random.Random(0), ToyTrainConfig(fewshot_prob=0.5); p = [Persona('a', 0.5, frozenset(w.verbs[:3]))]; "
            "print([training_batch(role, w, r, 8, t, p) for role in ('teacher', 'student') for _ in range(4)])")
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**__import__("os").environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_group_exams_pair_each_tp_with_the_other_problems_of_its_group():
    from lbt.tasks.base import SPLITS, group_exams

    problems = pl.DataFrame({"problem_id": ["p1", "p2", "p3", "q1", "q2"], "family_id": ["p", "p", "p", "q", "q"],
                             "role": ["tp"] * 5})
    sets = group_exams(problems, SPLITS["eval"])
    assert sets.rows() == [("p1", "p2"), ("p1", "p3"), ("p2", "p1"), ("p2", "p3"), ("p3", "p1"), ("p3", "p2"),
                           ("q1", "q2"), ("q2", "q1")]
    assert group_exams(problems, SPLITS["eval"], max_eps=1).rows() == [("p1", "p2"), ("p2", "p1"), ("p3", "p1"),
                                                                      ("q1", "q2"), ("q2", "q1")]


def test_distinct_wrong_ops_are_the_least_confusable_ones():
    from lbt.toy.config import ToyWorldConfig as _Config
    from lbt.toy.world import OPERATIONS, ToyWorld as _World, agreement, least_confusable

    assert least_confusable("add") == "min" and agreement("add", "min") == 1
    plain, distinct = _World(_Config()), _World(_Config(wrong_op="distinct"))
    assert set(plain.wrong_op) == set(distinct.wrong_op) and plain.true_op == distinct.true_op
    for verb, op in distinct.wrong_op.items():
        true = distinct.true_op[verb]
        assert agreement(true, op) == min(agreement(true, o) for o in OPERATIONS if o != true)


def test_confusable_wrong_ops_and_teacher_slips_are_knobs_that_default_off():
    import random as _random

    from lbt.toy.config import ToyWorldConfig as _Config
    from lbt.toy.world import ToyWorld as _World, agreement, most_confusable, worked_rationale as _worked

    assert most_confusable("sub") == "dif" and agreement("sub", "dif") == 60
    plain, confusable = _World(_Config()), _World(_Config(wrong_op="confusable"))
    assert set(plain.wrong_op) == set(confusable.wrong_op) and plain.true_op == confusable.true_op
    assert all(op == most_confusable(confusable.true_op[v]) for v, op in confusable.wrong_op.items())
    problem = plain.random_problem(tuple(plain.verbs[:2]), _random.Random(0))
    ops = plain.true_ops(problem)
    rng = _random.Random(1)
    assert plain.teacher_rationale(problem, ops, rng) == _worked(problem, ops) and rng.random() == _random.Random(1).random()
    slipping = _World(_Config(teacher_slip_prob=1.0))
    slipped = slipping.teacher_rationale(problem, ops, _random.Random(0)).split(";")[0].split()
    assert slipped[:4] == _worked(problem, ops).split(";")[0].split()[:4]  # same verb, op and digits
    assert slipped[-1] != _worked(problem, ops).split(";")[0].split()[-1]  # another result
