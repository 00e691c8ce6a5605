"""M1's adaptive exam budget: the race against the full exam's exact M1-SUM picks (random TPs with
identical TRs and ties), its budget and order, and the stage on a real tiny model and cache."""

from __future__ import annotations

import math
import random

import polars as pl
import pytest

from lbt import paths
from lbt.config import parse_params
from lbt.engines.config import HFModel
from lbt.engines.registry import make_engine
from lbt.methods.m1.adaptive import race
from lbt.methods.m1.adaptive_stage import adaptive_exams
from lbt.methods.m1.config import AdaptiveParams, Method
from lbt.methods.m1.select import exact_numerators, select
from lbt.tables import write_table
from lbt.tasks.base import SPLITS
from lbt.teaching.exams import exam_pairs, run_exam
from lbt.teaching.rationales import generate_rationales
from lbt.teaching.scores import lbt_scores

KEYS = ["tp_id"]
EXAM_ANSWERS = 6  # 3 EPs x 2 repeats


def random_world(seed: int, n_tp: int = 60):
    """TRs (copies of distinct TRs, each with an answer class) and every exam answer's grade."""
    rng = random.Random(seed)
    trs, outcomes = [], {}
    for tp in range(n_tp):
        n_classes, sample = rng.randint(1, 4), 0
        skill = {g: rng.random() for g in range(n_classes)}
        for tr in range(rng.randint(2, 10)):
            group = rng.randrange(n_classes)
            for _ in range(rng.choice([1, 1, 1, 2, 4])):  # identical TRs: copies of one distinct TR
                trs.append((f"tp{tp}", sample, f"tr{tr}", f"g{group}", group == 0))
                sample += 1
            for ep in range(3):
                for rep in range(2):
                    outcomes[(f"tp{tp}", f"tr{tr}", f"ep{ep}", rep)] = float(rng.random() < skill[group])
    return pl.DataFrame(trs, schema=["tp_id", "sample", "tr", "group", "correct"], orient="row"), outcomes


def race_inputs(trs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    grid = pl.DataFrame({"ep_id": [f"ep{e}" for e in range(3) for _ in range(2)], "rep": [0, 1] * 3})
    units = trs.group_by("tp_id", "tr", "group").agg(weight=pl.len().cast(pl.Float64)).join(grid, how="cross")
    classes = trs.sort("tp_id", "sample").group_by("tp_id", "group", maintain_order=True).agg(
        votes=pl.len(), first_sample=pl.col("sample").first(), correct=pl.col("correct").first())
    return units, classes


def grader(outcomes: dict, asked: list[int]):
    def grade(units: pl.DataFrame) -> pl.Series:
        asked.append(units.height)
        return pl.Series([outcomes[k] for k in units.select("tp_id", "tr", "ep_id", "rep").iter_rows()])
    return grade


def full_exam_sum_picks(trs: pl.DataFrame, outcomes: dict, ties: str) -> dict:
    sums = {}
    for (tp, tr, _, _), grade in outcomes.items():
        sums[(tp, tr)] = sums.get((tp, tr), 0) + int(grade)
    cands = trs.with_columns(
        grade_sum=pl.Series([sums[(tp, tr)] for tp, tr in trs.select("tp_id", "tr").iter_rows()], dtype=pl.Int64),
        n_exams=pl.lit(EXAM_ANSWERS, pl.Int64))
    picked = select(exact_numerators(cands, KEYS), KEYS, [Method.M1_SUM], ties)
    return dict(picked.select("tp_id", "group").iter_rows())


@pytest.mark.parametrize("ties", ["first_seen", "last_seen"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_race_without_statistics_picks_the_full_exams_m1_sum_class_exactly(seed, ties):
    trs, outcomes = random_world(seed)
    units, classes = race_inputs(trs)
    asked: list[int] = []
    result = race(units, classes, KEYS, grader(outcomes, asked), AdaptiveParams(z=math.inf, batch_fraction=0.1), seed,
                  ties)
    adaptive = dict(result.picks.filter(pl.col("method") == Method.M1_SUM).select("tp_id", "group").iter_rows())
    assert adaptive == full_exam_sum_picks(trs, outcomes, ties)
    assert 0 < sum(asked) < units.height  # some exams are needed, and some are spared
    single = classes.group_by("tp_id").len().filter(pl.col("len") == 1)["tp_id"]
    assert result.units.filter(pl.col("tp_id").is_in(single.implode()))["grade"].is_null().all()


def test_a_finite_confidence_spends_less_and_a_rerun_asks_for_the_same_units():
    trs, outcomes = random_world(7, n_tp=80)
    units, classes = race_inputs(trs)
    counts = {}
    for z in (math.inf, 1.0):
        runs = [race(units, classes, KEYS, grader(outcomes, []), AdaptiveParams(z=z), seed=3) for _ in range(2)]
        assert runs[0].units.equals(runs[1].units) and runs[0].picks.equals(runs[1].picks)
        counts[z] = runs[0].units["grade"].is_not_null().sum()
    assert counts[1.0] < counts[math.inf]


def test_the_budget_caps_each_tp_and_repeats_come_in_order():
    trs, outcomes = random_world(5)
    units, classes = race_inputs(trs)
    result = race(units, classes, KEYS, grader(outcomes, []), AdaptiveParams(z=math.inf, max_fraction=0.3), seed=0)
    per_tp = result.units.group_by("tp_id").agg(used=pl.col("grade").is_not_null().sum(), total=pl.len())
    assert (per_tp["used"] <= (per_tp["total"] * 0.3).floor()).all()
    examined = result.units.filter(pl.col("grade").is_not_null())
    first_rep1 = examined.filter(pl.col("rep") == 1).group_by("tp_id").agg(pl.col("round").min())
    last_rep0 = examined.filter(pl.col("rep") == 0).group_by("tp_id").agg(pl.col("round").max())
    both = first_rep1.join(last_rep0, on="tp_id", suffix="_0")
    assert (both["round"] >= both["round_0"]).all()


# -- the stage, on a real tiny model and request cache ------------------------------------------

TOY = {"world": {"n_verbs": 6, "n_steps": 2, "bad_verb_fraction": 0.34, "teacher_wrong_prob": 0.6, "seed": 0},
       "problems": {"n_tp": 8, "n_ep": 3, "n_train_families": 1}}


def stage_params(tiny_student, z: float):
    raw = {"task": "toy", "toy": TOY, "seed": 0, "cache_path": "cache.sqlite",
           "students": {"tiny": {"backend": "hf", "path": str(tiny_student)}},
           "exam": {"repeats": 2, "max_tokens": 24},
           "selection": {"adaptive": {"z": z, "batch_fraction": 0.1}}}
    return parse_params(raw, ["task", "toy.world", "toy.problems", "seed", "cache_path", "students.tiny", "exam",
                              "selection"])


def test_stage_asks_the_student_only_for_what_it_lacks_and_matches_the_full_exam(tiny_student, tmp_path, monkeypatch):
    from lbt.toy.task import ToyTask
    from lbt.teaching.config import RationaleParams

    monkeypatch.chdir(tmp_path)
    params = stage_params(tiny_student, math.inf)
    task = ToyTask(params.toy)
    problems = task.load_problems()
    write_table(problems, paths.PROBLEMS)
    with make_engine(HFModel(name="tiny", path=str(tiny_student)), "teacher-cache.sqlite") as teacher:
        rationales, _ = generate_rationales(task, teacher, False, problems, SPLITS["eval"],
                                            RationaleParams(num_rationales=8, max_tokens=24), base_seed=0)
    rationales = rationales.with_columns(teacher=pl.lit("t"))
    write_table(rationales, paths.rationales("t"))

    first = adaptive_exams(params, "t", "tiny")
    assert first["generations"]["generated"] == first["student_generations"] > 0
    assert first["student_generations"] < first["full_exam_generations"]
    assert adaptive_exams(params, "t", "tiny")["generations"]["generated"] == 0  # a rerun generates nothing

    with make_engine(params.students["tiny"], params.cache_path) as engine:  # the full exam reuses its answers
        pairs = exam_pairs(task, problems, rationales, SPLITS["eval"], None)
        exams = run_exam(task, engine, False, problems, pairs, params.exam, params.seed)
        assert engine.stats.generated == first["full_exam_generations"] - first["student_generations"]
    scores = lbt_scores(exams.with_columns(grade=pl.col("grade")))
    cands = rationales.join(scores, on=["tp_id", "teacher", "sample"]).with_columns(
        group=pl.col("answer").str.strip_chars())
    full = select(exact_numerators(cands, ["tp_id"]), ["tp_id"], [Method.M1_SUM])
    adaptive = pl.read_parquet(paths.adaptive_picks("t", "tiny")).filter(pl.col("method") == Method.M1_SUM)
    assert dict(adaptive.select("tp_id", "group").iter_rows()) == dict(full.select("tp_id", "group").iter_rows())
