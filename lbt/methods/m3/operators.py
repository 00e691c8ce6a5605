"""How a parent set and a few of the students' failures become revised sets.

Every operator handles a batch of reflection jobs (one per parent set and reflection index,
each with its own sample of F failures) as a generator that yields its model calls (see
lbt/methods/m3/driver.py) and returns one `Outcome` per job: the reflection's text and, per
proposal, the raw text, the revised set (None when dropped) and a status.

- **llm** (instruction models): the teacher writes a reflection (why might these exemplars have
  misled the students on these failures?), then `proposals` revised sets given it, each parsed
  from `<example><text>…</text><label>…</label></example>` blocks. Unparsable proposals and ones
  with too few exemplars are dropped and counted; sets are de-duplicated and kept balanced,
  short classes filled from the parent.
- **toy** (tiny models cannot write reflections): the reflection is a description of each
  failure (which verbs the failed question uses and which exemplar showed an operation for
  them, if any); each proposal drops the parent's exemplars that show a verb of a failed
  question (they may have misled) and puts first the teacher's own worked solutions, sampled
  through the engine, of other training problems of the failed questions' families (problems
  like the failed ones); the set is filled back to E with the parent's exemplars. The teacher's
  solutions can be wrong: the selection by the teacher's training score filters them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Generator

import polars as pl

from lbt.engines.base import derive_seed
from lbt.engines.config import ModelConfig
from lbt.methods.m3.config import M3Params
from lbt.methods.m3.driver import Calls, Replies
from lbt.methods.m3.scoring import request
from lbt.methods.m3.sets import ExemplarSet, build_set, unique_demos
from lbt.tasks.base import Demo, Task


@dataclass(frozen=True)
class Failure:
    """A student's wrong answer to a training item with one set."""

    student: str
    problem_id: str
    family_id: str
    question: str
    gold: str  # the gold answer
    solution: str  # the gold solution (a classification task: its label word)
    answer: str | None
    text: str


@dataclass(frozen=True)
class Job:
    parent: ExemplarSet
    index: int  # which reflection of this parent (0 … G-1)
    failures: tuple[Failure, ...]
    seed: int


@dataclass
class Outcome:
    job: Job
    reflection: str
    proposals: list[tuple[str, ExemplarSet | None, str]] = field(default_factory=list)  # (text, set, status)


OperatorRun = Generator[Calls, Replies, list[Outcome]]


@dataclass
class OperatorContext:
    task: Task
    teacher: str
    teacher_model: ModelConfig
    params: M3Params
    pool: pl.DataFrame  # the training items


# -- the LLM operator ------------------------------------------------------------------------------

_EXAMPLE = re.compile(r"<text>(.*?)</text>\s*<label>(.*?)</label>", re.DOTALL | re.IGNORECASE)


def fill(template: str, **slots: object) -> str:
    """The template with each {name} slot replaced (no other braces are interpreted)."""
    for name, value in slots.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def format_exemplars(demos: tuple[Demo, ...]) -> str:
    return "\n".join(f"<example><text>{d.question}</text><label>{d.rationale}</label></example>" for d in demos)


def format_failures(failures: tuple[Failure, ...]) -> str:
    return "\n".join(
        f"<failure><text>{f.question}</text><label>{f.solution}</label>"
        f"<student_answer>{f.text.strip()[:300]}</student_answer></failure>" for f in failures)


def parse_proposal(task: Task, text: str) -> list[Demo]:
    """The exemplars a proposal writes, in order; labels read by the task (unreadable ones dropped)."""
    demos = []
    for body, label in _EXAMPLE.findall(text or ""):
        answer = task.extract_answer(label)
        if body.strip() and answer is not None:
            demos.append(Demo(body.strip(), task.label_word(answer)))
    return unique_demos(demos)


def _chat_or_raw(model: ModelConfig, text: str) -> dict:
    return {"messages": (("user", text),)} if model.chat else {"prompt": text}


class LLMOperator:
    """For binary classification tasks (lbt.tasks.classify): exemplars are (text, label word)."""

    def __init__(self, ctx: OperatorContext):
        self.ctx = ctx

    def _slots(self, parent: ExemplarSet) -> dict:
        task, size = self.ctx.task, self.ctx.params.exemplars
        return {"task": task.instruction, "exemplars": format_exemplars(parent.demos), "size": size,
                "per_class": size // 2, "positive": task.label_word("1"), "negative": task.label_word("0")}

    def run(self, jobs: list[Job]) -> OperatorRun:
        ctx, llm = self.ctx, self.ctx.params.llm
        asks = [request(_chat_or_raw(ctx.teacher_model, fill(llm.reflection_prompt, failures=format_failures(j.failures),
                                                                **self._slots(j.parent))),
                        llm.reflection, 1, derive_seed(j.seed, "reflection")) for j in jobs]
        replies = yield {ctx.teacher: asks}
        reflections = [c[0].text for c in replies[ctx.teacher]]
        asks = [request(_chat_or_raw(ctx.teacher_model, fill(llm.proposal_prompt, reflection=r, **self._slots(j.parent))),
                        llm.proposal, ctx.params.proposals, derive_seed(j.seed, "proposal"))
                for j, r in zip(jobs, reflections)]
        replies = yield {ctx.teacher: asks}
        outcomes = []
        for job, reflection, completions in zip(jobs, reflections, replies[ctx.teacher]):
            outcome = Outcome(job, reflection)
            for c in completions:
                outcome.proposals.append((c.text, *self._revise(job.parent, c.text)))
            outcomes.append(outcome)
        return outcomes

    def _revise(self, parent: ExemplarSet, text: str) -> tuple[ExemplarSet | None, str]:
        demos, size = parse_proposal(self.ctx.task, text), self.ctx.params.exemplars
        if not demos:
            return None, "unparsable"
        if len(demos) < self.ctx.params.llm.min_parsed * size:
            return None, "too_few"
        child = build_set(self.ctx.task, demos, parent.demos, size)
        return (child, "ok") if child is not None else (None, "unbalanced")


# -- the toy operator ------------------------------------------------------------------------------

def shown_verbs(demos: tuple[Demo, ...]) -> dict[str, list[tuple[str, int]]]:
    """verb → [(operation, exemplar number from 1)] as the exemplars' worked steps show them."""
    shown: dict[str, list[tuple[str, int]]] = {}
    for k, demo in enumerate(demos, start=1):
        for step in demo.rationale.split(";"):
            words = step.split()
            if len(words) >= 3 and words[1] == ":":
                shown.setdefault(words[0], []).append((words[2], k))
    return shown


def describe_failures(task: Task, parent: ExemplarSet, failures: tuple[Failure, ...]) -> str:
    """The toy reflection: per failure, the verbs of the question (the toy task's `question_verbs`)
    and what the exemplars showed for them."""
    shown = shown_verbs(parent.demos)
    lines = []
    for f in failures:
        notes = [f"{v} shown as " + ", ".join(f"{op} (exemplar {k})" for op, k in shown[v]) if v in shown
                 else f"{v} not shown" for v in task.question_verbs(f.question)]
        lines.append(f"{f.student} answered {f.answer} (gold {f.gold}) on '{f.question}': {'; '.join(notes)}.")
    return "\n".join(lines)


class ToyOperator:
    def __init__(self, ctx: OperatorContext):
        self.ctx = ctx
        self.families = {fam: rows for (fam,), rows in ctx.pool.group_by(["family_id"], maintain_order=True)}

    def run(self, jobs: list[Job]) -> OperatorRun:
        ctx, p = self.ctx, self.ctx.params
        plans = []
        for job in jobs:
            rng = random.Random(job.seed)
            plans.append([self._pick(f, rng) for f in job.failures])
        asks = [request(ctx.task.teacher_prompt(question, [], ctx.teacher_model.chat), p.solution, p.proposals,
                        derive_seed(job.seed, "solution", pid))
                for job, plan in zip(jobs, plans) for pid, question in plan]
        replies = yield {ctx.teacher: asks}
        solutions = iter(replies[ctx.teacher])
        outcomes = []
        for job, plan in zip(jobs, plans):
            samples = [next(solutions) for _ in plan]
            outcome = Outcome(job, describe_failures(ctx.task, job.parent, job.failures))
            for k in range(p.proposals):
                written = [Demo(q, s[k].text) for (_, q), s in zip(plan, samples)]
                outcome.proposals.append(self._revise(job, written))
            outcomes.append(outcome)
        return outcomes

    def _pick(self, failure: Failure, rng: random.Random) -> tuple[str, str]:
        """(problem_id, question) of a training problem like the failed one: another of its family if any."""
        rows = self.families[failure.family_id]
        others = rows.filter(pl.col("problem_id") != failure.problem_id)
        rows = others if others.height else rows
        row = rows.row(rng.randrange(rows.height), named=True)
        return row["problem_id"], row["question"]

    def _revise(self, job: Job, written: list[Demo]) -> tuple[str, ExemplarSet | None, str]:
        text = "\n".join(f"{d.question} R {d.rationale}" for d in written)
        readable = [d for d in written if self.ctx.task.extract_answer(d.rationale) is not None]
        if not readable:
            return text, None, "unparsable"
        failed = {v for f in job.failures for v in self.ctx.task.question_verbs(f.question)}
        suspect = [d for d in job.parent.demos if failed & set(shown_verbs((d,)))]
        kept = [d for d in job.parent.demos if d not in suspect]
        child = build_set(self.ctx.task, [*readable, *kept], suspect, self.ctx.params.exemplars)
        return text, child, "ok" if child is not None else "too_few"


def make_operator(ctx: OperatorContext):
    return ToyOperator(ctx) if ctx.params.operator == "toy" else LLMOperator(ctx)
