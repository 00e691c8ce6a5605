"""M3's parts on hand-made inputs: proposal parsing, balanced and de-duplicated sets, scores,
the toy operator's reflection, and the lockstep driver."""

from __future__ import annotations

from lbt.engines.base import Completion, GenerationRequest
from lbt.methods.m3.config import M3Params
from lbt.methods.m3.driver import drive
from lbt.methods.m3.operators import (Failure, LLMOperator, OperatorContext, describe_failures, fill,
                                      parse_proposal, shown_verbs)
from lbt.methods.m3.scoring import Graded, score
from lbt.methods.m3.sets import ExemplarSet, build_set
from lbt.tasks.base import Demo
from lbt.tasks.classify import ClassifyTask
from lbt.toy.task import ToyTask

TASK = ClassifyTask()


def _ex(text: str, label: str) -> str:
    return f"<example><text>{text}</text><label>{label}</label></example>"


def test_proposals_parse_robustly():
    text = "Here you go:\n" + _ex("a", "Yes") + "\n<example> <text>b\nline 2</text>\n<LABEL>no.</LABEL></example>" + \
        _ex("a", "No") + _ex("c", "maybe") + _ex("  ", "Yes") + "<example><text>d</text>"
    assert parse_proposal(TASK, text) == [Demo("a", "Yes"), Demo("b\nline 2", "No")]  # dup, bad label, empty, cut
    assert parse_proposal(TASK, "I'd rather not.") == []
    assert parse_proposal(TASK, None) == []


def test_sets_are_balanced_and_filled_from_the_parent():
    parent = [Demo(f"p{i}", "Yes" if i < 2 else "No") for i in range(4)]
    child = build_set(TASK, [Demo("n1", "Yes"), Demo("n2", "Yes"), Demo("n3", "Yes"), Demo("n1", "No")], parent, 4)
    assert child.demos == (Demo("n1", "Yes"), Demo("n2", "Yes"), Demo("p2", "No"), Demo("p3", "No"))
    assert build_set(TASK, [Demo("x", "Yes")], [Demo("y", "Yes")], 2) is None  # no negative at hand
    toy = build_set(ToyTask(), [Demo("Q a", "A 1"), Demo("q  A", "A 2")], [Demo("Q b", "A 3")], 2)
    assert toy.questions == ["Q a", "Q b"]  # same question (case, spaces) kept once
    assert ExemplarSet(tuple(parent)).set_id == ExemplarSet(tuple(parent)).set_id != child.set_id


def test_llm_operator_drops_and_counts_bad_proposals():
    ctx = OperatorContext(TASK, "t", None, M3Params(settings={"s": ["t"]}, exemplars=4), None)
    parent = ExemplarSet(tuple(Demo(f"p{i}", "Yes" if i < 2 else "No") for i in range(4)))
    op = LLMOperator(ctx)
    assert op._revise(parent, "no examples here") == (None, "unparsable")
    assert op._revise(parent, _ex("x", "Yes")) == (None, "too_few")  # 1 < 0.5 * 4
    child, status = op._revise(parent, _ex("x", "Yes") + _ex("y", "No") + _ex("z", "No"))
    assert status == "ok" and child.demos == (Demo("x", "Yes"), Demo("y", "No"), Demo("z", "No"), Demo("p0", "Yes"))


def test_prompts_fill_only_named_slots():
    assert fill("{task}: {a} {json: {x}}", task="T", a=1) == "T: 1 {json: {x}}"


def test_f1_of_the_positive_class_and_accuracy():
    graded = Graded(["", "", "", "", ""], ["1", "1", "0", None, "0"], [1, 0, 1, 0, 0], ["1", "0", "0", "1", "1"])
    # TP 1, FP 1, FN 2 (no answer counts as a negative): F1 = 2 / (2 + 3)
    assert score("f1", graded, "1") == 2 / 5
    assert score("accuracy", graded, "1") == 2 / 5
    assert score("f1", Graded([], [], [], []), "1") == 0.0


def test_toy_reflection_names_the_verbs_and_the_exemplars_that_showed_them():
    parent = ExemplarSet((Demo("Q blip zork 1 2 3", "blip : add 1 2 = 3 ; zork : mul 3 3 = 9 ; A 9"),
                          Demo("Q frob blip 1 1 1", "frob : max 1 1 = 1 ; blip : sub 1 1 = 0 ; A 0")))
    assert shown_verbs(parent.demos) == {"blip": [("add", 1), ("sub", 2)], "zork": [("mul", 1)], "frob": [("max", 2)]}
    failure = Failure("alice", "p", "blip-quax", "Q blip quax 2 2 2", "4", "…", "6", "…")
    assert describe_failures(ToyTask(), parent, (failure,)) == (
        "alice answered 6 (gold 4) on 'Q blip quax 2 2 2': blip shown as add (exemplar 1), sub (exemplar 2); "
        "quax not shown.")


class _CountingEngine:
    def __init__(self):
        self.calls = []

    def generate(self, requests, desc=""):
        self.calls.append(len(requests))
        return [[Completion(r.prompt.upper(), 1)] for r in requests]


def _loop(name: str, rounds: int):
    got = []
    for k in range(rounds):
        replies = yield {"m": [GenerationRequest(prompt=f"{name}{k}")], "other": []}
        got.append(replies["m"][0][0].text)
    return got


def test_driver_runs_loops_in_lockstep_one_call_per_model_and_round():
    engine, idle = _CountingEngine(), _CountingEngine()
    results = drive([_loop("a", 2), _loop("b", 3)], {"m": engine, "other": idle})
    assert results == [["A0", "A1"], ["B0", "B1", "B2"]]
    assert engine.calls == [2, 2, 1] and idle.calls == []  # a model with nothing to do is not called
