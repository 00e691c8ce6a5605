"""The hf backend and the request cache, on a real tiny model trained in the session."""

import pytest

from lbt.engines.base import Completion, GenerationRequest
from lbt.engines.cache import RequestCache
from lbt.engines.engine import Engine
from lbt.engines.registry import make_engine
from lbt.engines.config import HFModel
from lbt.engines.hf import HFBackend


def _request(question: str, n: int, seed: int = 1, temperature: float = 1.0) -> GenerationRequest:
    return GenerationRequest(prompt=f"{question} R", n=n, temperature=temperature, max_tokens=20, seed=seed)


QUESTIONS = ["Q blip zork 3 7 5", "Q frob blip 1 2 3", "Q zork zork 9 0 4", "Q quax daxo 4 4 1"]


def test_same_seed_same_text_whatever_the_batch(tiny_student):
    backend = HFBackend(HFModel(name="s", path=str(tiny_student), batch_size=64))
    alone = [backend.generate_samples([s])[0].text for s in _request(QUESTIONS[0], 4).samples()]
    mixed_samples = [s for q in QUESTIONS for s in _request(q, 4).samples()]
    mixed = backend.generate_samples(mixed_samples[::-1])[::-1]  # other order, other neighbours
    assert [c.text for c in mixed[:4]] == alone
    assert len(set(alone)) > 1, "sampling at temperature 1 should vary between samples"


def test_greedy_ignores_seed(tiny_student):
    backend = HFBackend(HFModel(name="s", path=str(tiny_student)))
    a = backend.generate_samples(_request(QUESTIONS[1], 1, seed=1, temperature=0).samples())
    b = backend.generate_samples(_request(QUESTIONS[1], 1, seed=2, temperature=0).samples())
    assert a == b


def test_a_row_stops_at_its_eos_token_and_others_run_to_their_limit(tiny_student):
    """Declare the token the model writes third (greedily) to be an EOS token: that row must stop
    there with finish "stop", while a row whose limit comes first ends with "length"."""
    backend = HFBackend(HFModel(name="s", path=str(tiny_student)))
    full = backend.generate_samples(_request(QUESTIONS[1], 1, temperature=0).samples())[0]
    assert full.n_tokens >= 3
    third = backend.tokenizer(full.text, add_special_tokens=False).input_ids[2]
    backend.eos_ids = set(backend.eos_ids) | {third}
    greedy = GenerationRequest(prompt=f"{QUESTIONS[1]} R", temperature=0, max_tokens=20)
    short = GenerationRequest(prompt=f"{QUESTIONS[1]} R", temperature=0, max_tokens=1, seed=1, stop=("zz",))
    stopped, limited = backend.generate_samples([*greedy.samples(), *short.samples()])
    assert (stopped.n_tokens, stopped.finish_reason) == (2, "stop")
    assert (limited.n_tokens, limited.finish_reason) == (1, "length")


def test_top_k_one_is_greedy(tiny_student):
    backend = HFBackend(HFModel(name="s", path=str(tiny_student)))
    greedy = backend.generate_samples(_request(QUESTIONS[2], 1, temperature=0).samples())[0].text
    req = GenerationRequest(prompt=f"{QUESTIONS[2]} R", n=3, temperature=1.0, top_k=1, max_tokens=20)
    assert {c.text for c in backend.generate_samples(req.samples())} == {greedy}


def test_cache_reuses_and_extends(tiny_student, tmp_path):
    db = tmp_path / "cache.sqlite"
    config = HFModel(name="s", path=str(tiny_student))
    engine = make_engine(config, db)
    first = engine.generate([_request(q, 8) for q in QUESTIONS])
    assert engine.stats.generated == 32

    again = make_engine(config, db)  # a new process would see the same file
    assert again.generate([_request(q, 8) for q in QUESTIONS]) == first
    assert again.stats.generated == 0 and again.stats.from_cache == 32 and again.stats.shared == 0

    more = make_engine(config, db)
    out = more.generate([_request(q, 16) for q in QUESTIONS])
    assert more.stats.generated == 32  # only samples 8..15 of each request
    assert [o[:8] for o in out] == first


class _Crashing:
    """Wraps a real backend and dies after `survive` chunks, like a killed stage."""

    def __init__(self, backend, survive: int):
        self.backend, self.survive, self.calls = backend, survive, 0

    @property
    def identity(self):
        return self.backend.identity

    def generate_samples(self, samples):
        self.calls += 1
        if self.calls > self.survive:
            raise KeyboardInterrupt("killed")
        return self.backend.generate_samples(samples)


def test_killed_run_resumes_where_it_stopped(tiny_student, tmp_path):
    backend = HFBackend(HFModel(name="s", path=str(tiny_student)))
    cache = RequestCache(tmp_path / "cache.sqlite")
    requests = [_request(q, 8) for q in QUESTIONS]
    with pytest.raises(KeyboardInterrupt):
        Engine(_Crashing(backend, survive=2), cache, "s", chunk_size=5).generate(requests)
    assert cache.count() == 10
    resumed = Engine(backend, cache, "s", chunk_size=5)
    resumed.generate(requests)
    assert resumed.stats.generated == 22


def test_missing_model_folder_is_one_sentence(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Model folder .*nowhere does not exist"):
        HFBackend(HFModel(name="s", path=str(tmp_path / "nowhere")))


def test_request_needs_one_of_prompt_or_messages():
    with pytest.raises(ValueError, match="exactly one"):
        GenerationRequest()
    with pytest.raises(ValueError, match="exactly one"):
        GenerationRequest(prompt="x", messages=(("user", "x"),))


def test_close_releases_the_model_and_the_cache(tiny_student, tmp_path):
    engine = make_engine(HFModel(name="s", path=str(tiny_student)), tmp_path / "cache.sqlite")
    engine.generate([_request(QUESTIONS[0], 2)])
    with engine:
        pass  # leaving the block closes it
    assert engine.backend.model is None
    with pytest.raises(Exception, match="closed"):
        engine.cache.count()


def test_threads_and_a_prompt_that_fills_the_context(tiny_student):
    import torch

    before = torch.get_num_threads()
    try:
        backend = HFBackend(HFModel(name="s", path=str(tiny_student), threads=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    limit = backend.max_positions
    long_prompt = " ".join(["Q"] * (limit + 5))  # longer than the model's positions: empty, never a crash
    near_end = " ".join(["Q"] * (limit - 3))  # room for 3 tokens only
    outs = backend.generate_samples([GenerationRequest(prompt=p, max_tokens=20, temperature=0).samples()[0]
                                     for p in (long_prompt, near_end, "Q blip 1 2 R")])
    assert outs[0] == Completion(text="", n_tokens=0, finish_reason="length")
    assert outs[1].n_tokens <= 3
    assert outs[2].n_tokens > 0


def _exam_shaped(world, n_trs: int = 3, n_eps: int = 3) -> list[GenerationRequest]:
    """Toy exam prompts: `n_trs` TRs (worked rationales of their TPs, of different lengths) x `n_eps`
    variants each, greedy and sampled (n=3, per-sample seeds)."""
    import random

    from lbt.toy.curriculum import render_prompt

    rng = random.Random(0)
    families, _ = world.families(n_trs, 0)
    requests = []
    for verbs in families:
        tp, *eps = world.variants(verbs, n_eps + 1, rng)
        tr = world.teacher_rationale(tp, world.true_ops(tp), rng)
        for k, ep in enumerate(eps):
            prompt = render_prompt([(tp.question, tr)], ep.question)
            requests += [GenerationRequest(prompt=prompt, temperature=0, max_tokens=24),
                         GenerationRequest(prompt=prompt, n=3, temperature=1.0, max_tokens=24, seed=k)]
    return requests


def test_shared_prefixes_give_the_texts_of_each_sample_decoded_alone(tiny_student, toy_world):
    """Exam prompts that share their TR prefill it once: every completion equals that sample decoded
    alone without sharing, greedy and sampled, whatever its neighbours and their lengths."""
    samples = [s for r in _exam_shaped(toy_world) for s in r.samples()]
    shared = HFBackend(HFModel(name="s", path=str(tiny_student), batch_size=64))
    plain = HFBackend(HFModel(name="s", path=str(tiny_student), share_prefix=False))
    alone = [plain.generate_samples([s])[0] for s in samples]
    assert shared.generate_samples(samples) == alone
    assert shared.generate_samples(samples[::-1])[::-1] == alone
    small = HFBackend(HFModel(name="s", path=str(tiny_student), batch_size=5))  # groups split over batches
    assert small.generate_samples(samples) == alone
    assert len({c.text for c in alone}) > 9, "the prompts and seeds should give different texts"


def test_the_prefix_groups_of_exam_prompts_are_their_trs(tiny_student, toy_world):
    from lbt.engines.prefix import prefix_groups

    backend = HFBackend(HFModel(name="s", path=str(tiny_student)))
    requests = _exam_shaped(toy_world)
    prompts = [backend.tokenizer(r.prompt).input_ids for r in requests for _ in r.samples()]
    groups = prefix_groups(prompts, max_rows=64)
    per_tr = len(prompts) // 3  # its EPs x (1 greedy + 3 sampled)
    assert sorted(sorted(g.rows) for g in groups) == [list(range(k, k + per_tr)) for k in range(0, len(prompts), per_tr)]
    for g in groups:
        first = prompts[g.rows[0]]
        assert all(prompts[r][:g.shared] == first[:g.shared] and len(prompts[r]) > g.shared for r in g.rows)
        assert g.shared >= len(first) // 2


def test_rows_that_finish_leave_the_batch(tiny_student):
    """A row that reaches its limit after two tokens leaves: the forward passes after that run on
    the other row only, whose text is the one it gets alone."""
    backend = HFBackend(HFModel(name="s", path=str(tiny_student), share_prefix=False))
    short = GenerationRequest(prompt=f"{QUESTIONS[1]} R", temperature=0, max_tokens=2)
    other = GenerationRequest(prompt=f"{QUESTIONS[3]} R", temperature=0, max_tokens=20)
    alone = backend.generate_samples(other.samples())[0]
    rows_per_pass = []
    forward = backend.model.forward
    backend.model.forward = lambda **kw: rows_per_pass.append(kw["input_ids"].shape[0]) or forward(**kw)
    stopped, unaffected = backend.generate_samples([*short.samples(), *other.samples()])
    assert (stopped.n_tokens, stopped.finish_reason, unaffected) == (2, "length", alone)
    assert alone.n_tokens == 20 and rows_per_pass == [2, 2] + [1] * 18  # the prefill, then one pass a token
