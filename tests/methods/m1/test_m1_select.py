"""M1 selection rules on hand-made candidates whose right answer is known."""

import random
from fractions import Fraction

import polars as pl
import pytest

from lbt.config import ParamsError, parse_params
from lbt.methods.m1.analysis import resampled_accuracy
from lbt.methods.m1.config import Method
from lbt.methods.m1.select import exact_numerators, select
from lbt.teaching.scores import lbt_scores

METHODS = ["sc", "m1_max", "m1_sum", "m1_avg"]


def _cands(rows):
    """Hand-made candidates; scores in hundredths, kept exactly as `score_num` (score x 100); each
    TR distinct, of 10 tokens, with 3 exam answers of 10 tokens each."""
    table = pl.DataFrame(rows, schema={"student": pl.String, "tp_id": pl.String, "sample": pl.Int64,
                                       "group": pl.String, "correct": pl.Boolean, "score": pl.Float64},
                         orient="row")
    return table.with_columns(score_num=(pl.col("score") * 100).round().cast(pl.Int64), tr_tokens=pl.lit(10),
                              text_key=pl.col("sample"), n_exams=pl.lit(3), exam_tokens=pl.lit(30))


def _picked(cands):
    out = select(cands, ["student", "tp_id"], METHODS)
    return {m: (g, c) for m, g, c in out.select("method", "group", "correct").iter_rows()}


def test_scores_overturn_the_majority():
    # Three TRs say 7 (wrong, students fail), two say 3 (right, students pass).
    cands = _cands([("s", "t", 0, "7", False, 0.0), ("s", "t", 1, "7", False, 0.34),
                    ("s", "t", 2, "3", True, 1.0), ("s", "t", 3, "7", False, 0.0),
                    ("s", "t", 4, "3", True, 0.67)])
    picked = _picked(cands)
    assert picked["sc"] == ("7", False)
    assert picked["m1_max"] == ("3", True)
    assert picked["m1_sum"] == ("3", True)  # 1.67 vs 0.34
    assert picked["m1_avg"] == ("3", True)


def test_sum_and_max_can_disagree():
    # One perfect TR for 5 against four decent TRs for 2: MAX picks 5, SUM picks 2.
    cands = _cands([("s", "t", 0, "5", True, 1.0)] + [("s", "t", i, "2", False, 0.6) for i in range(1, 5)])
    picked = _picked(cands)
    assert picked["m1_max"][0] == "5" and picked["m1_sum"][0] == "2" and picked["m1_avg"][0] == "5"


def test_equal_scores_reduce_to_sc_and_ties_go_to_first_seen():
    cands = _cands([("s", "t", 0, "4", False, 1.0), ("s", "t", 1, "9", True, 1.0),
                    ("s", "t", 2, "9", True, 1.0), ("s", "t", 3, "4", False, 1.0),
                    ("s", "t", 4, "8", False, 1.0)])
    picked = _picked(cands)
    # 4 and 9 both have 2 votes and max score 1: the tie goes to 4, seen first (sample 0).
    assert {m: g for m, (g, _) in picked.items()} == {m: "4" for m in METHODS}


def test_no_answer_is_wrong_and_never_selected():
    cands = _cands([("s", "t", 0, None, False, 1.0), ("s", "t", 1, "6", True, 0.2),
                    ("s", "u", 0, None, False, 0.5)])
    out = select(cands, ["student", "tp_id"], METHODS)
    t = out.filter(pl.col("tp_id") == "t")
    assert set(t["group"]) == {"6"}
    u = out.filter(pl.col("tp_id") == "u")
    assert u.height == len(METHODS) and u["group"].is_null().all() and not u["correct"].any()


def test_resampling_at_full_size_matches_selection_and_is_seeded():
    rows = []
    for tp in range(20):
        for sample in range(8):
            right = sample % 3 == 0
            rows.append(("s", f"t{tp}", sample, "1" if right else str(2 + tp % 2), right, 1.0 if right else 0.0))
    cands = _cands(rows)
    curve = resampled_accuracy(cands, ["student", "tp_id"], METHODS, [1, 4, 8, 99], trials=10, seed=0)
    assert sorted(curve["n"].unique()) == [1, 4, 8]  # 99 is capped at the 8 available
    full = curve.filter(pl.col("n") == 8)
    assert dict(full.select("method", "mean").iter_rows()) == {"m1_avg": 1.0, "m1_max": 1.0, "m1_sum": 1.0, "sc": 0.0}
    assert full["std"].max() == 0
    one = curve.filter(pl.col("n") == 1)
    assert 0 < one["mean"][0] < 1  # a single TR is right about a third of the time
    again = resampled_accuracy(cands, ["student", "tp_id"], METHODS, [1, 4, 8], trials=10, seed=0)
    assert again.equals(curve.filter(pl.col("n") <= 8))


def test_every_tp_gets_one_pick_per_method_from_its_own_answers():
    # Per TP i: classes "i-0" (TRs 0 and 2, right, scores 0 and 0.5) and "i-1" (TRs 1 and 3, wrong,
    # scores 0.25 and 0.75): two votes each, so SC's tie goes to the class seen first; every LbT
    # rule prefers "i-1" (max 0.75, sum 1.0, mean 0.5 against 0.5, 0.5 and 0.25).
    cands = _cands([("s", f"t{i}", j, f"{i}-{j % 2}", j % 2 == 0, j / 4) for i in range(5) for j in range(4)])
    out = select(cands, ["student", "tp_id"], METHODS)
    picks = {(tp, m): (g, c) for tp, m, g, c in out.select("tp_id", "method", "group", "correct").iter_rows()}
    assert out.height == len(picks) == 5 * len(METHODS)  # one row per (TP, method)
    for i in range(5):
        assert picks[(f"t{i}", "sc")] == (f"{i}-0", True)
        assert all(picks[(f"t{i}", m)] == (f"{i}-1", False) for m in ("m1_max", "m1_sum", "m1_avg"))


def _exams(trs):
    """Exam rows of one student: `trs` is [(tp_id, sample, [grade, ...]), ...]."""
    rows = [(tp, "t", sample, "s", float(g), 1) for tp, sample, grades in trs for g in grades]
    return pl.DataFrame(rows, schema={"tp_id": pl.String, "teacher": pl.String, "sample": pl.Int64,
                                      "student": pl.String, "grade": pl.Float64, "n_tokens": pl.Int64}, orient="row")


def _scored_candidates(trs, groups):
    """Candidates as the select stage builds them: TR answer classes joined with exact LbT scores."""
    keys = ["teacher", "student", "tp_id"]
    answers = pl.DataFrame([(tp, sample, groups[tp, sample]) for tp, sample, _ in trs],
                           schema={"tp_id": pl.String, "sample": pl.Int64, "group": pl.String}, orient="row")
    cands = lbt_scores(_exams(trs)).join(answers, on=["tp_id", "sample"]).with_columns(
        correct=pl.col("group") == "right")
    return exact_numerators(cands, keys), keys


@pytest.mark.parametrize("correct_counts", [(3, 6, 0), (1, 6, 2)])
def test_sums_equal_as_fractions_tie_and_go_to_more_votes(correct_counts):
    # "right": three TRs whose students got 3, 6, 0 (or 1, 6, 2) of 9 exams right; "wrong": one
    # TR with 9 of 9, seen first. Both sums are 9/9: the tie goes to more votes, not to rounding.
    trs = [("a", 0, [1] * 9)] + [("a", i + 1, [1] * k + [0] * (9 - k)) for i, k in enumerate(correct_counts)]
    groups = {("a", 0): "wrong"} | {("a", i): "right" for i in (1, 2, 3)}
    cands, keys = _scored_candidates(trs, groups)
    picked = select(cands, keys, [Method.M1_SUM])
    assert picked["group"].to_list() == ["right"]
    float_sum = sum(k / 9 for k in correct_counts)  # in sample order
    assert float_sum < 1.0 if correct_counts == (1, 6, 2) else float_sum == 1.0  # floats would pick "wrong"


def _brute_force_pick(trs, groups, method):
    """The pick by Fractions: per class votes, max, sum and mean of exact scores; ties to first seen."""
    classes: dict = {}
    for _, sample, grades in sorted(trs, key=lambda t: t[1]):
        score = sum(Fraction(g).limit_denominator(100) for g in grades) / len(grades)
        c = classes.setdefault(groups[trs[0][0], sample], {"scores": [], "first": sample})
        c["scores"].append(score)
    stat = {Method.SC: lambda s: 0, Method.M1_MAX: max, Method.M1_SUM: sum,
            Method.M1_AVG: lambda s: sum(s) / len(s)}[method]
    return min(classes, key=lambda g: (-stat(classes[g]["scores"]), -len(classes[g]["scores"]), classes[g]["first"]))


def test_exact_ranking_agrees_with_fractions_on_random_tps():
    rng = random.Random(0)
    grade_values = [k / m for m in (1, 2, 3, 4, 6, 9) for k in range(m + 1)]
    trs, groups = [], {}
    for tp in range(300):
        n_exams = rng.choice([1, 2, 3, 4, 6, 9])  # per TR: exams of different sizes
        for sample in range(rng.randint(1, 8)):
            trs.append((f"t{tp}", sample, [rng.choice(grade_values) for _ in range(rng.choice([n_exams, 3]))]))
            groups[f"t{tp}", sample] = rng.choice(["x", "y", "z"])
    cands, keys = _scored_candidates(trs, groups)
    picked = select(cands, keys, METHODS)
    by_tp: dict = {}
    for tr in trs:
        by_tp.setdefault(tr[0], []).append(tr)
    for tp, method, group in picked.select("tp_id", "method", "group").iter_rows():
        assert group == _brute_force_pick(by_tp[tp], groups, Method(method)), (tp, method)


def test_last_seen_ties_go_to_the_class_seen_last():
    # 4 (first seen at sample 0), 9 (at 1) and 8 (at 4): 4 and 9 tie on score and votes.
    cands = _cands([("s", "t", 0, "4", False, 1.0), ("s", "t", 1, "9", True, 1.0),
                    ("s", "t", 2, "9", True, 1.0), ("s", "t", 3, "4", False, 1.0),
                    ("s", "t", 4, "8", False, 1.0)])
    last = select(cands, ["student", "tp_id"], METHODS, ties="last_seen")
    assert set(last["group"]) == {"9"}  # 8 has fewer votes; of 4 and 9, 9 was seen last
    first = select(cands, ["student", "tp_id"], METHODS, ties="first_seen")
    assert set(first["group"]) == {"4"}


def test_ties_param_reaches_resampling_in_each_trial_s_own_order():
    # Two TRs, one vote each: every trial is a full tie. Each trial takes its TRs in a random order
    # (a fresh run's), so the TR seen first is sometimes the right one, and the two rules pick
    # opposite TRs in every trial.
    cands = _cands([("s", "t", 0, "4", False, 1.0), ("s", "t", 1, "9", True, 1.0)])
    curve = {ties: resampled_accuracy(cands, ["student", "tp_id"], ["sc"], [2], trials=40, seed=0, ties=ties)
             for ties in ("first_seen", "last_seen")}
    first, last = curve["first_seen"]["mean"][0], curve["last_seen"]["mean"][0]
    assert 0 < first < 1 and first + last == pytest.approx(1.0)


def test_resampled_sc_does_not_favour_the_first_samples_of_the_run():
    # Per TP, 16 TRs that all disagree (SC is a full tie at every N), the right one the run's last.
    # In a fresh run of N samples the right TR comes first 1 time in 16 whatever N: so must the curve.
    rows = [("s", f"t{tp}", k, "1" if k == 15 else f"{tp}-{k}", k == 15, 1.0) for tp in range(40) for k in range(16)]
    curve = resampled_accuracy(_cands(rows), ["student", "tp_id"], ["sc"], [1, 2, 4, 16], trials=200, seed=0)
    means = dict(curve.select("n", "mean").iter_rows())
    assert all(abs(m - 1 / 16) < 0.02 for m in means.values()), means


def test_an_unknown_tie_rule_stops_the_params_with_one_sentence_naming_key_and_rules():
    with pytest.raises(ParamsError) as err:
        parse_params({"selection": {"ties": "random"}}, ["selection"])
    assert str(err.value) == "params.yaml: `selection.ties`: Input should be 'first_seen' or 'last_seen' (got 'random')."
