"""What the toy teacher and student are trained on: (prompt, completion) pairs in the toy world.

Prompts use the same layout as the pipeline's: in-context demos `Q … R <rationale>` joined by
`|`, then the question, ending in `R`; the completion is the rationale.

- The **teacher** mostly solves from its own (flawed) belief about each verb; some of its
  training prompts carry exemplars, and it uses the operation an exemplar shows for a verb, so
  better exemplars (M3) make it better.
- The **student** always sees one example of the same family and follows its operations with
  probability `follow_prob`, otherwise it uses the true operations.
"""

from __future__ import annotations

import random

from lbt.toy.world import OPERATIONS, ToyWorld, worked_rationale


def render_prompt(demos: list[tuple[str, str]], question: str) -> str:
    parts = [f"{q} R {r}" for q, r in demos]
    return " | ".join([*parts, f"{question} R"])


def _random_chain(world: ToyWorld, rng: random.Random) -> tuple[str, ...]:
    return tuple(rng.choice(world.verbs) for _ in range(world.config.n_steps))


def _shown_ops(world: ToyWorld, verbs: set[str], rng: random.Random) -> dict[str, str]:
    """What an example shows for each verb: the true operation half the time, else any.
    Verbs are visited in sorted order: a set's order changes between processes (hash seeds)."""
    return {v: world.true_op[v] if rng.random() < 0.5 else rng.choice(list(OPERATIONS)) for v in sorted(verbs)}


def teacher_example(world: ToyWorld, rng: random.Random, n_demos: int) -> tuple[str, str]:
    problem = world.random_problem(_random_chain(world, rng), rng)
    demo_problems = []
    for _ in range(n_demos):
        chain = list(_random_chain(world, rng))
        chain[rng.randrange(len(chain))] = rng.choice(problem.verbs)  # share a verb with the query
        demo_problems.append(world.random_problem(tuple(chain), rng))
    shown = _shown_ops(world, {v for p in demo_problems for v in p.verbs}, rng)
    demos = [(p.question, worked_rationale(p, tuple(shown[v] for v in p.verbs))) for p in demo_problems]
    ops = tuple(shown[v] if v in shown else world.teacher_op(v, rng) for v in problem.verbs)
    return render_prompt(demos, problem.question), world.teacher_rationale(problem, ops, rng)


def student_example(world: ToyWorld, rng: random.Random, follow_prob: float) -> tuple[str, str]:
    chain = _random_chain(world, rng)
    demo, problem = world.random_problem(chain, rng), world.random_problem(chain, rng)
    shown = _shown_ops(world, set(chain), rng)
    demo_text = worked_rationale(demo, tuple(shown[v] for v in demo.verbs))
    follows = rng.random() < follow_prob
    ops = tuple(shown[v] for v in chain) if follows else world.true_ops(problem)
    return render_prompt([(demo.question, demo_text)], problem.question), worked_rationale(problem, ops)


def training_batch(role: str, world: ToyWorld, rng: random.Random, size: int,
                   fewshot_prob: float, follow_prob: float) -> list[tuple[str, str]]:
    """One batch of examples. A teacher batch is all zero-shot or all with exemplars (with
    probability `fewshot_prob`), so short prompts are not padded to the width of long ones."""
    if role == "student":
        return [student_example(world, rng, follow_prob) for _ in range(size)]
    if role == "teacher":
        fewshot = rng.random() < fewshot_prob
        return [teacher_example(world, rng, rng.choice([1, 2]) if fewshot else 0) for _ in range(size)]
    raise ValueError(f"Unknown toy model role {role!r}: use 'teacher' or 'student'.")

