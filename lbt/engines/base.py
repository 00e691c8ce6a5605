"""The one interface every text-generation backend speaks.

A caller builds `GenerationRequest`s (a prompt or chat messages plus sampling settings and a
base seed) and gets back, per request, `n` `Completion`s. Backends work on `Sample`s: one
(request, index) pair each, with its own seed derived from the request's seed and the index,
never from where the sample sits in a batch. That is what makes per-sample caching possible:
raising `n` from 8 to 16 only asks the backend for samples 8..15.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Protocol, Sequence


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: exactly one of `prompt` (raw completion) or `messages` (chat)."""

    prompt: str | None = None
    messages: tuple[tuple[str, str], ...] | None = None  # ((role, content), ...)
    n: int = 1
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 means off
    max_tokens: int = 256
    seed: int = 0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("A GenerationRequest needs exactly one of `prompt` or `messages`.")
        if self.n < 1:
            raise ValueError(f"GenerationRequest.n must be at least 1, got {self.n}.")

    def sampling_key(self) -> str:
        """A stable digest of everything but `n`: the identity of this request's samples."""
        fields = asdict(self)
        fields.pop("n")
        if self.temperature == 0:  # greedy: the seed and the sampling filters play no part
            fields.update(seed=0, top_p=1.0, top_k=0)
        blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def samples(self) -> list["Sample"]:
        return [Sample(self, i) for i in range(self.n)]

    def with_prompt_prefix(self, prefix: str | None) -> "GenerationRequest":
        """This request with `prefix` first: before the raw prompt, or before the content of the
        first chat message (see `with_prefix`)."""
        if not prefix:
            return self
        if self.prompt is not None:
            return replace(self, prompt=with_prefix(prefix, self.prompt))
        (role, content), *rest = self.messages
        return replace(self, messages=((role, with_prefix(prefix, content)), *rest))


def with_prefix(prefix: str | None, text: str) -> str:
    """A model's `prompt_prefix` (e.g. a toy student's persona token) and a newline before `text`."""
    return f"{prefix}\n{text}" if prefix else text


@dataclass(frozen=True)
class Sample:
    """One completion to produce: sample `index` of `request`."""

    request: GenerationRequest
    index: int

    @property
    def seed(self) -> int:
        """Per-sample seed from (request seed, index); greedy samples ignore it."""
        return derive_seed(self.request.seed, self.index)


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int
    finish_reason: str = "stop"  # "stop" (EOS or a stop string) or "length"


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any tuple of ids; stable across processes and Python versions."""
    blob = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") >> 1


class Backend(Protocol):
    """A model that turns samples into completions (no caching, no bookkeeping)."""

    @property
    def identity(self) -> str:
        """A string that changes whenever the outputs could change (model weights, dtype...)."""
        ...

    def generate_samples(self, samples: Sequence[Sample]) -> list[Completion]:
        """One completion per sample, in order."""
        ...

    def close(self) -> None:
        """Release what the backend holds (weights, GPU memory, connections)."""
        ...


@dataclass
class GenerationStats:
    requested: int = 0  # samples asked for
    generated: int = 0  # samples the backend produced
    from_cache: int = 0  # samples read from the request cache (earlier runs, or earlier calls)

    @property
    def shared(self) -> int:
        """Samples identical to another one of the same call (same request, same seed): made once."""
        return self.requested - self.generated - self.from_cache

    def as_dict(self) -> dict[str, int]:
        return {"requested": self.requested, "generated": self.generated, "from_cache": self.from_cache,
                "shared": self.shared}
