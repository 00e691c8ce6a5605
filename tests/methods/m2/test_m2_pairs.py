"""Pair building on real scored rationales: a tiny toy teacher's TRs on training TPs, graded by
the task, scored by a tiny student's exams."""

from __future__ import annotations

import polars as pl
import pytest

from lbt.engines.config import HFModel
from lbt.engines.registry import make_engine
from lbt.methods.m2.config import PairParams
from lbt.methods.m2.pairs import (all_pairs, build_pairs, candidates, pair_differences, scored_rationales,
                                  with_reference_flags)
from lbt.tasks.base import SPLITS
from lbt.toy.task import ToyTask
from lbt.teaching.config import ExamParams, RationaleParams
from lbt.teaching.exams import exam_pairs, run_exam
from lbt.teaching.rationales import generate_rationales
from lbt.toy.config import ToyParams, ToyProblemsConfig, ToyWorldConfig

SPLIT = SPLITS["train"]


@pytest.fixture(scope="module")
def scored(tiny_student, tmp_path_factory) -> tuple[pl.DataFrame, pl.DataFrame]:
    task = ToyTask(ToyParams(world=ToyWorldConfig(n_verbs=6), problems=ToyProblemsConfig(
        n_tp=2, n_ep=2, n_train_families=6)))
    problems = task.load_problems()
    model = HFModel(name="tiny", path=str(tiny_student))
    with make_engine(model, tmp_path_factory.mktemp("c") / "c.sqlite") as engine:
        # the tiny student plays the teacher too: what matters is real, varied, graded TRs
        sampled, _ = generate_rationales(task, engine, False, problems, SPLIT,
                                         RationaleParams(num_rationales=8, max_tokens=24), base_seed=0)
        exams = run_exam(task, engine, False, problems, exam_pairs(task, problems, sampled, SPLIT, None),
                         ExamParams(max_tokens=24), 0)
    return scored_rationales(sampled, exams), problems


def test_lbt_score_is_the_mean_exam_grade_of_each_tr(scored):
    table, _ = scored
    assert table.height == 6 * 8 and (table["n_exams"] == 2).all()
    assert table["lbt"].is_in([0.0, 0.5, 1.0]).all()


def test_pairs_follow_the_threshold_budget_and_gap_order(scored):
    cands = candidates(scored[0])
    assert cands.group_by("tp_id", "text").len()["len"].max() == 1  # identical TRs are one candidate
    p = PairParams(threshold=0.0, max_per_tp=3)
    pairs = build_pairs(cands, "m2", p, seed=0)
    assert pairs.height > 0, "the tiny models' TRs must differ in score somewhere"
    assert (pairs["gap"] > 0).all() and (pairs["chosen_text"] != pairs["rejected_text"]).all()
    assert pairs.group_by("tp_id").len()["len"].max() <= 3
    score = 0.5 * cands["grade"] + 0.5 * cands["lbt"]
    best = dict(zip(zip(cands["tp_id"], cands["sample"]), score))
    for tp, part in pairs.group_by("tp_id"):
        assert part["gap"].to_list() == sorted(part["gap"].to_list(), reverse=True)
        for row in part.iter_rows(named=True):
            assert row["chosen_score"] == pytest.approx(best[(tp[0], row["chosen_sample"])])
    assert build_pairs(cands, "m2", p, seed=0).equals(pairs)  # deterministic


def test_correctness_pairs_put_a_correct_ta_over_a_wrong_one(scored):
    pairs = build_pairs(candidates(scored[0]), "correctness_dpo", PairParams(), seed=0)
    assert (pairs["chosen_correct"] & ~pairs["rejected_correct"]).all()


def test_budget_ties_are_broken_by_the_seed_alone():
    # four distinct TRs of one TP: two correct, two wrong; every correct/wrong pair has gap 1
    cands = pl.DataFrame({
        "tp_id": ["t"] * 4, "sample": [0, 1, 2, 3], "copies": [1] * 4, "prompt": ["Q a 1 2 R"] * 4,
        "text": ["a", "b", "c", "d"], "answer": ["1", "1", "2", "3"], "grade": [1.0, 1.0, 0.0, 0.0],
        "correct": [True, True, False, False], "lbt": [1.0, 1.0, 0.0, 0.0], "n_exams": [2] * 4})
    p = PairParams(max_per_tp=2)
    picks = {seed: build_pairs(cands, "correctness_dpo", p, seed).select("chosen_sample", "rejected_sample").rows()
             for seed in range(8)}
    assert all(len(v) == 2 for v in picks.values())
    assert len({tuple(v) for v in picks.values()}) > 1  # other seeds, other picks among equal gaps
    assert picks[3] == build_pairs(cands, "correctness_dpo", p, 3).select("chosen_sample", "rejected_sample").rows()


def test_differences_count_what_one_set_has_and_the_other_lacks(scored):
    table, problems = scored
    pairs = with_reference_flags(all_pairs(candidates(table), PairParams(threshold=0.2), [0, 1]), problems)
    diff = pair_differences(pairs, 0)
    for pair_set in ("m2", "correctness_dpo"):
        mine = pairs.filter(pair_set=pair_set, seed=0)
        assert diff.filter(pair_set=pair_set)["pairs"].sum() == mine.height
    assert (diff["only_here"] + diff["shared"] == diff["pairs"]).all()
    assert set(diff.filter(pair_set="correctness_dpo")["kind"]) <= {"correct_over_wrong"}
