"""A vllm model on a Ray cluster's GPU nodes, through Ray Data LLM's vLLM processor.

UNTESTED ON A GPU: written against ray 2.60's `ray.data.llm` (`vLLMEngineProcessorConfig`,
`build_processor`) and vllm 0.32, and run here only in the parts that need no GPU: the rows sent
(`sample_row`), the completions read back (`completion_row`) and the streaming of result blocks
into the request cache (`stream_rows`, over a real Ray Data dataset in the tests).

Each sample is one row with its own seed and `n=1`, as in the in-process vllm backend, whose cache
identity this backend shares. Prompts go as text; chat prompts are rendered by the driver with the
folder's tokenizer into token ids (as the vllm backend does), so the processor's chat-template,
tokenize and detokenize stages are off. Ray Data runs `ray.workers` engine replicas
(`concurrency`) and sends them batches of `block_size` rows; results come back block by block and
each is cached as it lands, so a failed job loses only the blocks in flight. The processor reports
no finish reason: a completion that used all its `max_tokens` is taken as cut ("length").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

from lbt.engines.base import Completion, Sample
from lbt.engines.config import VLLMModel
from lbt.engines.fingerprint import model_identity
from lbt.engines.ray_cluster import connect, disconnect
from lbt.engines.ray_dispatch import gather

DEFAULT_BLOCK = 256
_TOP_K_OFF = 0  # as lbt.engines.vllm: vllm 0.32's "no top-k"


def sample_row(index: int, sample: Sample, prompt_ids: list[int] | None = None) -> dict[str, Any]:
    """The processor's input row for one sample (its text prompt, or the driver-rendered chat ids)."""
    r = sample.request
    row: dict[str, Any] = {
        "index": index,
        "max_tokens": r.max_tokens,
        "sampling_params": {"n": 1, "temperature": r.temperature, "top_p": r.top_p,
                            "top_k": r.top_k if r.top_k > 0 else _TOP_K_OFF, "max_tokens": r.max_tokens,
                            "seed": sample.seed, "stop": list(r.stop)},
    }
    if prompt_ids is None:
        row["prompt"] = r.prompt
    else:
        row["tokenized_prompt"] = prompt_ids
    return row


def completion_row(row: dict[str, Any]) -> dict[str, Any]:
    """The processor's output row reduced to what the cache stores."""
    n_tokens = int(row["num_generated_tokens"])
    return {"index": int(row["index"]), "text": str(row["generated_text"]), "n_tokens": n_tokens,
            "finish_reason": "length" if n_tokens >= int(row["max_tokens"]) else "stop"}


def stream_rows(dataset, block_size: int) -> Iterator[tuple[list[int], list[Completion]]]:
    """(sample indices, completions) per block of a dataset of `completion_row`s, as blocks arrive."""
    for batch in dataset.iter_batches(batch_size=block_size, batch_format="numpy"):
        indices = [int(i) for i in batch["index"]]
        yield indices, [Completion(str(t), int(n), str(f))
                        for t, n, f in zip(batch["text"], batch["n_tokens"], batch["finish_reason"])]


class RayVLLMBackend:
    """Generation on Ray Data's vLLM processor (see the module docstring: untested on a GPU)."""

    def __init__(self, config: VLLMModel) -> None:
        assert config.ray is not None
        self.settings, self.name = config.ray, config.name
        self.config = config.model_copy(update={"path": str(Path(config.path).resolve())})
        self._identity = model_identity("vllm", self.config.path, config.dtype)
        self.block_size = self.settings.block_size or DEFAULT_BLOCK
        self.counts = {"resent": 0}
        self.ray = None  # joined on the first missing sample: a fully cached stage starts no Ray
        self._processor = None
        self._tokenizer = None

    @property
    def identity(self) -> str:
        return self._identity

    def _build(self):
        self.ray = self.ray or connect(self.settings)
        from ray.data.llm import build_processor, vLLMEngineProcessorConfig

        c = self.config
        engine = dict(dtype=c.dtype, tensor_parallel_size=c.tensor_parallel_size, seed=0,
                      gpu_memory_utilization=c.gpu_memory_utilization, enable_prefix_caching=c.enable_prefix_caching)
        if c.max_model_len is not None:
            engine["max_model_len"] = c.max_model_len
        processor = vLLMEngineProcessorConfig(
            model_source=c.path, engine_kwargs=engine, concurrency=self.settings.workers, batch_size=self.block_size,
            chat_template_stage=False, tokenize_stage=False, detokenize_stage=False)
        return build_processor(processor, postprocess=completion_row)

    def _chat_ids(self, sample: Sample) -> list[int] | None:
        if sample.request.messages is None:
            return None
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.config.path, local_files_only=True)
        messages = [{"role": role, "content": content} for role, content in sample.request.messages]
        text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def stream(self, samples: Sequence[Sample]) -> Iterator[tuple[list[int], list[Completion]]]:
        if not samples:
            return
        if self._processor is None:
            self._processor = self._build()
        rows = [sample_row(i, s, self._chat_ids(s)) for i, s in enumerate(samples)]
        yield from stream_rows(self._processor(self.ray.data.from_items(rows)), self.block_size)

    def generate_samples(self, samples: Sequence[Sample]) -> list[Completion]:
        return gather(self.stream(samples), len(samples))

    def close(self) -> None:
        if self.ray is not None:
            self.ray = None
            disconnect()
