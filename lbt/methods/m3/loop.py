"""The M3 loop for one student setting and one run, as a generator of model calls (driver.py).

Iteration 0 scores the initial beam (B sets of E exemplars). Each iteration t = 1 … T: every
student answers a minibatch of training items with every set of the beam; their failures are
pooled per set; for each set, G reflection jobs each look at F sampled failures and propose
revised sets (the operator); up to C new sets per parent join the parents; the teacher answers
a random training sample with every candidate and the B best by the teacher's score survive;
the teacher's held-out score with the best set is recorded. Every random choice is seeded by
(base seed, run, iteration, …), the same for every setting: settings of one run start from the
same beam and see the same minibatches, so their comparison is paired.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Generator

import polars as pl

from lbt.engines.base import derive_seed
from lbt.engines.config import ModelConfig
from lbt.methods.m3.config import M3Params
from lbt.methods.m3.operators import Failure, Job, Outcome
from lbt.methods.m3.scoring import Graded, answer_requests, grade, request, score
from lbt.methods.m3.sets import ExemplarSet, sample_items
from lbt.tasks.base import Demo, Task

Gen = Generator[Any, Any, Any]


@dataclass
class LoopContext:
    task: Task
    params: M3Params
    seed: int
    teacher: str
    models: dict[str, ModelConfig]  # every model a loop calls, by name
    pool: pl.DataFrame  # training items
    heldout: pl.DataFrame  # held-out items
    operator: Any  # lbt.methods.m3.operators.{LLMOperator, ToyOperator}


@dataclass
class Record:
    """What one loop did: rows of the M3 tables, and the samples it asked for per phase."""

    setting: str
    run: int
    sets: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    reflections: list[dict] = field(default_factory=list)
    scores: list[dict] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)  # (iteration, phase) -> samples requested

    def keys(self, iteration: int) -> dict:
        return {"setting": self.setting, "run": self.run, "iteration": iteration}


def _ask(rec: Record, iteration: int, phase: str, calls: dict) -> Gen:
    rec.calls[(iteration, phase)] += sum(r.n for reqs in calls.values() for r in reqs)
    return (yield calls)


def _counted(rec: Record, iteration: int, phase: str, gen: Gen) -> Gen:
    """Runs a sub-generator of calls (an operator), counting the samples it asks for."""
    try:
        calls = next(gen)
        while True:
            replies = yield from _ask(rec, iteration, phase, calls)
            calls = gen.send(replies)
    except StopIteration as stop:
        return stop.value


def _answers(ctx: LoopContext, rec: Record, iteration: int, phase: str, models: list[str],
             sets: list[ExemplarSet], items: pl.DataFrame) -> Gen:
    """{(set_id, model): Graded}: every model answers every item with every set."""
    calls = {m: [r for s in sets for r in answer_requests(ctx.task, ctx.models[m], s, items, ctx.params.answer,
                                                           ctx.seed)] for m in models}
    replies = yield from _ask(rec, iteration, phase, calls)
    out = {}
    for m in models:
        for k, s in enumerate(sets):
            out[(s.set_id, m)] = grade(ctx.task, items, replies[m][k * items.height:(k + 1) * items.height])
    return out


def _rng(ctx: LoopContext, *parts: object) -> random.Random:
    return random.Random(derive_seed(ctx.seed, "m3", *parts))


def initial_beam(ctx: LoopContext, rec: Record) -> Gen:
    p, task = ctx.params, ctx.task
    drawn = [sample_items(ctx.pool, p.exemplars, _rng(ctx, rec.run, "init", b), task) for b in range(p.beam)]
    texts = [list(items["solution"]) for items in drawn]
    if p.init == "teacher":
        asks = [request(task.teacher_prompt(q, [], ctx.models[ctx.teacher].chat), p.solution, 1,
                        derive_seed(ctx.seed, "m3-init", pid)) for items in drawn for pid, q in
                items.select("problem_id", "question").iter_rows()]
        replies = iter((yield from _ask(rec, 0, "init", {ctx.teacher: asks}))[ctx.teacher])
        texts = [[next(replies)[0].text for _ in range(items.height)] for items in drawn]
    beam = [ExemplarSet(tuple(Demo(q, t) for q, t in zip(items["question"], ts))) for items, ts in zip(drawn, texts)]
    return list({s.set_id: s for s in beam}.values())


def select(ctx: LoopContext, rec: Record, iteration: int, candidates: list[tuple[ExemplarSet, dict]]) -> Gen:
    """The B best candidates by the teacher's score on a random training sample (parents first on
    ties); records every candidate and the held-out score of the best."""
    p = ctx.params
    sample = sample_items(ctx.pool, p.score_sample, _rng(ctx, rec.run, iteration, "score"))
    sets = [s for s, _ in candidates]
    graded = yield from _answers(ctx, rec, iteration, "selection", [ctx.teacher], sets, sample)
    scores = [score(p.metric, graded[(s.set_id, ctx.teacher)], ctx.task.positive_answer) for s in sets]
    order = sorted(range(len(sets)), key=lambda i: -scores[i])
    for rank, i in enumerate(order):
        s, info = candidates[i]
        rec.sets.append({**rec.keys(iteration), "set_id": s.set_id, **info, "questions": s.questions,
                         "rationales": s.rationales, "train_score": scores[i], "rank": rank, "kept": rank < p.beam})
    beam = [sets[i] for i in order[: p.beam]]
    best = beam[0]
    held = yield from _answers(ctx, rec, iteration, "heldout", [ctx.teacher], [best], ctx.heldout)
    for split, value, n in (("train", scores[order[0]], sample.height),
                            ("heldout", score(p.metric, held[(best.set_id, ctx.teacher)], ctx.task.positive_answer),
                             ctx.heldout.height)):
        rec.scores.append({**rec.keys(iteration), "set_id": best.set_id, "split": split, "score": value, "n": n})
    return beam


def failures(ctx: LoopContext, rec: Record, iteration: int, beam: list[ExemplarSet], students: list[str]) -> Gen:
    """{set_id: [Failure]}: the students' wrong answers on this iteration's minibatch, pooled per set."""
    items = sample_items(ctx.pool, ctx.params.minibatch, _rng(ctx, rec.run, iteration, "minibatch"))
    graded = yield from _answers(ctx, rec, iteration, "students", students, beam, items)
    rows = items.select("problem_id", "family_id", "question", "solution").rows()
    pooled: dict[str, list[Failure]] = {}
    for s in beam:
        for student in students:
            g: Graded = graded[(s.set_id, student)]
            for (pid, fam, q, sol), text, answer, gold, mark in zip(rows, g.texts, g.answers, g.golds, g.grades):
                if mark < 1:
                    pooled.setdefault(s.set_id, []).append(Failure(student, pid, fam, q, gold, sol, answer, text))
        for f in pooled.get(s.set_id, []):
            rec.failures.append({**rec.keys(iteration), "set_id": s.set_id, **f.__dict__})
    return pooled


def reflection_jobs(ctx: LoopContext, rec: Record, iteration: int, beam: list[ExemplarSet],
                    pooled: dict[str, list[Failure]]) -> list[Job]:
    p, jobs = ctx.params, []
    for parent in beam:
        found = pooled.get(parent.set_id, [])
        for g in range(p.reflections if found else 0):
            rng = _rng(ctx, rec.setting, rec.run, iteration, parent.set_id, g)
            picked = tuple(rng.sample(found, min(p.failures, len(found))))
            jobs.append(Job(parent, g, picked, derive_seed(ctx.seed, "m3-reflect", rec.run, iteration, parent.set_id, g)))
    return jobs


def children(ctx: LoopContext, rec: Record, iteration: int, beam: list[ExemplarSet],
             outcomes: list[Outcome]) -> list[tuple[ExemplarSet, dict]]:
    """Up to C new distinct sets per parent, in proposal order; records every reflection and proposal."""
    seen, made = {s.set_id for s in beam}, Counter()
    out = []
    for o in outcomes:
        for k, (text, child, status) in enumerate(o.proposals):
            if child is not None and child.set_id in seen:
                child, status = None, "duplicate"
            elif child is not None and made[o.job.parent.set_id] >= ctx.params.children:
                child, status = None, "over_limit"
            if child is not None:
                seen.add(child.set_id)
                made[o.job.parent.set_id] += 1
                out.append((child, {"parent_id": o.job.parent.set_id, "origin": "proposal", "reflection": o.job.index}))
            rec.reflections.append({
                **rec.keys(iteration), "parent_id": o.job.parent.set_id, "reflection": o.job.index,
                "failure_ids": [f"{f.student}:{f.problem_id}" for f in o.job.failures], "reflection_text": o.reflection,
                "proposal": k, "proposal_text": text, "child_id": child.set_id if child else None, "status": status})
    return out


def refine(ctx: LoopContext, setting: str, students: list[str], run: int) -> Gen:
    """One run of one student setting; returns its Record."""
    rec = Record(setting, run)
    beam = yield from initial_beam(ctx, rec)
    beam = yield from select(ctx, rec, 0, [(s, {"parent_id": None, "origin": "init", "reflection": None}) for s in beam])
    for t in range(1, ctx.params.iterations + 1):
        pooled = yield from failures(ctx, rec, t, beam, students)
        jobs = reflection_jobs(ctx, rec, t, beam, pooled)
        outcomes = (yield from _counted(rec, t, "operator", ctx.operator.run(jobs))) if jobs else []
        parents = [(s, {"parent_id": None, "origin": "parent", "reflection": None}) for s in beam]
        beam = yield from select(ctx, rec, t, parents + children(ctx, rec, t, beam, outcomes))
    return rec
