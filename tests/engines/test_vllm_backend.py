"""Tests of the vLLM backend's request/response mapping against a test double.

The fake `vllm` module below stands in for vLLM because vLLM needs an NVIDIA GPU (and its
CUDA-only wheels) that these tests cannot count on. It mimics the parts of the vllm 0.32 API the
backend touches: `LLM(**engine_args)`, `LLM.get_tokenizer()` (an HF-style tokenizer with
`apply_chat_template` and `encode`), `LLM.generate(prompts, sampling_params_list, use_tqdm=...)`,
`SamplingParams(...)` and output objects shaped like `RequestOutput` / `CompletionOutput`.
It records every call so the tests can check what the backend asked for.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import pytest

from lbt.engines.base import GenerationRequest, Sample
from lbt.engines.config import VLLMModel
from lbt.engines.vllm import VLLMBackend


@dataclass
class FakeCompletionOutput:  # vllm.outputs.CompletionOutput
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None = None
    logprobs: None = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class FakeRequestOutput:  # vllm.outputs.RequestOutput
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int] | None
    prompt_logprobs: None
    outputs: list[FakeCompletionOutput]
    finished: bool = True


class FakeSamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.__dict__.update(kwargs)


class FakeTokenizer:
    bos = "<s>"

    def __init__(self):
        self.template_calls: list[dict] = []
        self.encode_calls: list[dict] = []

    def apply_chat_template(self, messages, tokenize=True, add_generation_prompt=False, **kwargs):
        self.template_calls.append(
            {"messages": messages, "tokenize": tokenize, "add_generation_prompt": add_generation_prompt}
        )
        text = self.bos + "".join(f"<|{m['role']}|>{m['content']}" for m in messages)
        return text + ("<|assistant|>" if add_generation_prompt else "")

    def encode(self, text, add_special_tokens=True):
        self.encode_calls.append({"text": text, "add_special_tokens": add_special_tokens})
        return ([1] if add_special_tokens else []) + [ord(c) for c in text]


@dataclass
class FakeLLM:
    engine_args: dict
    tokenizer: FakeTokenizer = field(default_factory=FakeTokenizer)
    generate_calls: list[dict] = field(default_factory=list)
    forced_finish: object = "unset"  # when set: this finish_reason on every output

    def get_tokenizer(self):
        return self.tokenizer

    def generate(self, prompts, sampling_params=None, *, use_tqdm=True, **kwargs):
        assert isinstance(sampling_params, list) and len(sampling_params) == len(prompts)
        self.generate_calls.append({"prompts": list(prompts), "params": sampling_params, "use_tqdm": use_tqdm})
        outputs = []
        for i, (prompt, sp) in enumerate(zip(prompts, sampling_params)):
            n_tokens = min(sp.max_tokens, 5)  # every fake completion "wants" 5 tokens
            finish = "length" if sp.max_tokens < 5 else "stop"
            if self.forced_finish != "unset":
                finish = self.forced_finish
            outputs.append(
                FakeRequestOutput(
                    request_id=str(i),
                    prompt=prompt if isinstance(prompt, str) else None,
                    prompt_token_ids=None,
                    prompt_logprobs=None,
                    outputs=[FakeCompletionOutput(0, f"out{i} seed={sp.seed}", list(range(n_tokens)), finish_reason=finish)],
                )
            )
        return outputs


@pytest.fixture
def fake_vllm(monkeypatch):
    fake = types.ModuleType("vllm")
    fake.instances = []

    def make_llm(**engine_args):
        llm = FakeLLM(engine_args)
        fake.instances.append(llm)
        return llm

    fake.LLM = make_llm
    fake.SamplingParams = FakeSamplingParams
    monkeypatch.setitem(sys.modules, "vllm", fake)
    return fake


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "tiny-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama", "hidden_size": 8}')
    return folder


def make_backend(model_dir, **overrides):
    config = VLLMModel(name="tiny", path=str(model_dir), **overrides)
    return VLLMBackend(config)


def test_engine_args_pass_through(fake_vllm, model_dir):
    make_backend(model_dir, dtype="bfloat16", tensor_parallel_size=4, gpu_memory_utilization=0.8, max_model_len=4096)
    (llm,) = fake_vllm.instances
    assert llm.engine_args == {
        "model": str(model_dir),
        "dtype": "bfloat16",
        "tensor_parallel_size": 4,
        "gpu_memory_utilization": 0.8,
        "max_model_len": 4096,
        "enable_prefix_caching": True,
        "seed": 0,
    }


def test_identity_is_fingerprint_and_dtype_without_paths(fake_vllm, model_dir):
    backend = make_backend(model_dir, dtype="float16")
    ident = backend.identity
    assert ident.startswith("vllm:") and ident.endswith(":float16")
    assert str(model_dir) not in ident and "tiny-model" not in ident
    assert make_backend(model_dir, dtype="float16").identity == ident  # stable
    assert make_backend(model_dir, dtype="bfloat16").identity != ident
    (model_dir / "config.json").write_text('{"model_type": "llama", "hidden_size": 16}')
    assert make_backend(model_dir, dtype="float16").identity != ident  # new weights/config


def test_one_generate_call_per_batch_with_per_sample_params(fake_vllm, model_dir):
    backend = make_backend(model_dir)
    sampled = GenerationRequest(prompt="Q: 1+1?", n=3, temperature=0.7, top_p=0.9, top_k=0, max_tokens=64, seed=11, stop=("\n\n", "Q:"))
    greedy = GenerationRequest(prompt="Q: 2+2?", temperature=0.0, top_k=20, max_tokens=32, seed=5)
    samples = sampled.samples() + greedy.samples()
    backend.generate_samples(samples)

    (llm,) = fake_vllm.instances
    assert len(llm.generate_calls) == 1
    call = llm.generate_calls[0]
    assert call["use_tqdm"] is True
    assert call["prompts"] == ["Q: 1+1?"] * 3 + ["Q: 2+2?"]

    params = call["params"]
    for sp, sample in zip(params, samples):
        assert sp.n == 1
        assert sp.seed == sample.seed
    assert len({sp.seed for sp in params[:3]}) == 3  # each sample of a request has its own seed
    assert params[0].kwargs == {
        "n": 1,
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 0,  # our "off" -> vllm 0.32's "off"
        "max_tokens": 64,
        "seed": Sample(sampled, 0).seed,
        "stop": ["\n\n", "Q:"],
    }
    assert params[3].temperature == 0.0 and params[3].top_k == 20 and params[3].stop == []


def test_seed_does_not_depend_on_batch_position(fake_vllm, model_dir):
    backend = make_backend(model_dir)
    a = GenerationRequest(prompt="a", n=2, seed=1)
    b = GenerationRequest(prompt="b", n=2, seed=2)
    backend.generate_samples(a.samples() + b.samples())
    backend.generate_samples(b.samples()[::-1] + a.samples())
    first, second = (c["params"] for c in fake_vllm.instances[0].generate_calls)
    assert [p.seed for p in first[2:]] == [p.seed for p in second[:2]][::-1]
    assert [p.seed for p in first[:2]] == [p.seed for p in second[2:]]


def test_chat_messages_go_through_the_chat_template(fake_vllm, model_dir):
    backend = make_backend(model_dir)
    chat = GenerationRequest(messages=(("system", "Be brief."), ("user", "Hi")), n=3, temperature=1.0)
    plain = GenerationRequest(prompt="raw text")
    backend.generate_samples(chat.samples() + plain.samples())

    (llm,) = fake_vllm.instances
    tok = llm.tokenizer
    assert len(tok.template_calls) == 1  # rendered once per request, not per sample
    assert tok.template_calls[0] == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "tokenize": False,
        "add_generation_prompt": True,
    }
    rendered = "<s><|system|>Be brief.<|user|>Hi<|assistant|>"
    # The template already wrote BOS: no second one from tokenization.
    expected = {"prompt_token_ids": [ord(c) for c in rendered]}
    (call,) = llm.generate_calls
    assert call["prompts"] == [expected] * 3 + ["raw text"]
    assert tok.encode_calls == [{"text": rendered, "add_special_tokens": False}]


def test_outputs_in_order_with_token_counts_and_finish_reason(fake_vllm, model_dir):
    backend = make_backend(model_dir)
    long = GenerationRequest(prompt="p", n=2, max_tokens=100, seed=3)
    short = GenerationRequest(prompt="q", max_tokens=2, seed=4)
    samples = long.samples() + short.samples()
    out = backend.generate_samples(samples)
    assert [c.text for c in out] == [f"out{i} seed={s.seed}" for i, s in enumerate(samples)]
    assert [c.n_tokens for c in out] == [5, 5, 2]
    assert [c.finish_reason for c in out] == ["stop", "stop", "length"]


@pytest.mark.parametrize("reason", ["abort", "error", None])
def test_failed_requests_raise_instead_of_returning_text(fake_vllm, model_dir, reason):
    backend = make_backend(model_dir)
    fake_vllm.instances[0].forced_finish = reason
    with pytest.raises(RuntimeError, match="vLLM request"):
        backend.generate_samples(GenerationRequest(prompt="p").samples())


def test_empty_batch_makes_no_call(fake_vllm, model_dir):
    backend = make_backend(model_dir)
    assert backend.generate_samples([]) == []
    assert fake_vllm.instances[0].generate_calls == []


def test_missing_vllm_gives_one_clear_error(monkeypatch, model_dir):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail as if not installed
    with pytest.raises(ImportError, match=r"pip install -e '\.\[vllm\]'") as info:
        make_backend(model_dir)
    assert "GPU" in str(info.value)
