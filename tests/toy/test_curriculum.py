"""The toy curriculum: the prompt layout, the following rule (last example wins), the teacher's
own belief, and the student personas' flaws, checked on generated examples."""

import random

import pytest

from lbt.engines.base import with_prefix
from lbt.toy.config import ToyStudentConfig, ToyTrainConfig, ToyWorldConfig
from lbt.toy.curriculum import (FAMILY, Kind, Persona, render_prompt, student_example, student_personas,
                                teacher_example, training_batch)
from lbt.toy.world import ToyWorld, parse_question, rationale_steps, worked_rationale

WORLD = ToyWorld(ToyWorldConfig())


def _parts(prompt: str) -> tuple[str | None, list[tuple[str, str]], str]:
    """(persona token, demos as (question, rationale), question) of a rendered prompt."""
    head, _, rest = prompt.partition("\n")
    persona, prompt = (head, rest) if rest else (None, head)
    *demos, question = prompt.split(" | ")
    return persona, [tuple(d.split(" R ")) for d in demos], question.removesuffix(" R")


def _last_shown(demos: list[tuple[str, str]]) -> dict[str, str]:
    shown = {}
    for _, rationale in demos:
        shown.update(rationale_steps(rationale))
    return shown


def test_prompt_layout_and_persona_token_first():
    prompt = render_prompt([("Q blip 1 2", "blip add 1 2 3 ; A 3")], "Q zork 4 5")
    assert prompt == "Q blip 1 2 R blip add 1 2 3 ; A 3 | Q zork 4 5 R"
    assert render_prompt([], "Q zork 4 5") == "Q zork 4 5 R"
    example = student_example(WORLD, random.Random(0), Persona("alice", 1.0))
    assert example.prompt.startswith(with_prefix("alice", "Q "))
    assert _parts(example.prompt)[0] == "alice"


def test_teacher_uses_the_last_example_showing_a_verb_and_its_own_belief_elsewhere():
    rng, conflicts, unshown_bad = random.Random(1), 0, []
    for _ in range(3000):
        example = teacher_example(WORLD, rng, Kind(4))
        _, demos, question = _parts(example.prompt)
        problem, shown = parse_question(question), _last_shown(demos)
        used = dict(rationale_steps(example.completion))
        for verb in problem.verbs:
            if verb in shown:
                assert used[verb] == shown[verb]
                ops = {op for _, r in demos for v, op in rationale_steps(r) if v == verb}
                conflicts += len(ops) > 1
            elif verb in WORLD.wrong_op:
                unshown_bad.append(used[verb] == WORLD.wrong_op[verb])
            else:
                assert used[verb] == WORLD.true_op[verb]
        assert example.completion == worked_rationale(problem, tuple(used[v] for v in problem.verbs))
    assert conflicts > 100, "examples that disagree about a verb must be common enough to learn the rule"
    assert abs(sum(unshown_bad) / len(unshown_bad) - WORLD.config.teacher_wrong_prob) < 0.05


def test_persona_ignores_examples_on_its_flawed_verbs_only():
    flawed = frozenset(WORLD.verbs[:8])
    persona, rng, followed = Persona("bob", 1.0, flawed), random.Random(2), 0
    for kind in (FAMILY, Kind(3, family=True), *map(Kind, (1, 2, 3, 4))):
        for _ in range(300):
            example = student_example(WORLD, rng, persona, kind)
            _, demos, question = _parts(example.prompt)
            shown, used = _last_shown(demos), dict(rationale_steps(example.completion))
            for verb in parse_question(question).verbs:
                if verb in flawed or verb not in shown:
                    assert used[verb] == WORLD.true_op[verb]
                else:
                    assert used[verb] == shown[verb]
                    followed += shown[verb] != WORLD.true_op[verb]
    assert followed > 200


def test_follow_probability_is_per_persona_and_zero_is_the_control():
    config = ToyStudentConfig(follow_prob=0.0, personas={"alice": {"follow_prob": 0.5}, "bob": {}})
    alice, bob = student_personas(config)
    assert (alice.token, alice.follow_prob, bob.token, bob.follow_prob) == ("alice", 0.5, "bob", 0.0)
    rng = random.Random(3)
    for _ in range(300):
        example = student_example(WORLD, rng, bob)
        problem = parse_question(_parts(example.prompt)[2])
        assert example.completion == worked_rationale(problem, WORLD.true_ops(problem))
    assert student_personas(ToyStudentConfig(follow_prob=0.3)) == [Persona(None, 0.3)]


def test_family_kind_is_m1s_exam_layout():
    example = student_example(WORLD, random.Random(4), Persona(None, 1.0), FAMILY)
    _, demos, question = _parts(example.prompt)
    assert len(demos) == 1 and parse_question(demos[0][0]).verbs == parse_question(question).verbs


def test_family_kind_hides_the_familys_example_among_others_at_every_place():
    rng, places = random.Random(6), set()
    for _ in range(200):
        example = student_example(WORLD, rng, Persona(None, 1.0), Kind(3, family=True))
        _, demos, question = _parts(example.prompt)
        verbs = parse_question(question).verbs
        same = [k for k, (q, _) in enumerate(demos) if parse_question(q).verbs == verbs]
        assert len(demos) == 3 and same
        places.add(same[0])
    assert places == {0, 1, 2}


def test_free_steps_mark_only_random_draws():
    rng = random.Random(5)
    for _ in range(500):
        example = teacher_example(WORLD, rng, Kind(0))
        verbs = parse_question(_parts(example.prompt)[2]).verbs
        assert example.free_steps == tuple(v in WORLD.wrong_op for v in verbs)
        sure = student_example(WORLD, rng, Persona(None, 1.0), Kind(2))
        assert not any(sure.free_steps)


def test_a_batch_has_one_kind_and_chains_of_varied_lengths():
    personas = [Persona("alice", 1.0), Persona("bob", 1.0)]
    for longest in (0, 3):
        train, rng = ToyTrainConfig(fewshot_prob=0.5, max_demos=4, longest_chain=longest), random.Random(6)
        kinds, lengths = set(), set()
        for role in ("teacher", "student"):
            for _ in range(120):
                batch = training_batch(role, WORLD, rng, 4, train, personas)
                kinds.add((role, len(_parts(batch[0].prompt)[1])))
                assert len({len(_parts(e.prompt)[1]) for e in batch}) == 1
                lengths |= {len(parse_question(q).verbs) for e in batch for q, _ in _parts(e.prompt)[1]}
        assert {("teacher", 0), ("teacher", 4), ("student", 1), ("student", 4)} <= kinds
        assert lengths == ({1, 2, 3} if longest else {WORLD.config.n_steps})
    with pytest.raises(ValueError, match="Unknown toy model role"):
        training_batch("critic", WORLD, rng, 4, train)


def test_longest_prompt_fits_the_models_positions():
    train, rng = ToyTrainConfig(), random.Random(7)
    kind = Kind(train.max_demos, longest=train.longest_chain)
    longest = max(len(e.prompt.split()) + len(e.completion.split()) for e in
                  (teacher_example(WORLD, rng, kind) for _ in range(500)))
    assert longest + 2 <= train.n_positions
