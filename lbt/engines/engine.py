"""What stages call: requests in, `n` completions per request out, through the request cache.

An `Engine` wraps one backend (hf, vllm, openai, or a Ray cluster running hf or vllm) and one
`RequestCache`; it generates only the samples the cache lacks, stores each chunk (or each block
a Ray cluster sends back) as soon as it is done, and counts what it asked for and what it
generated. A read-only cache serves a fully cached stage; one that would need writes stops the
stage before anything is generated. `close()` releases the backend (GPU memory, worker threads,
connections, Ray workers) so that one stage can run several models one after another.
"""

from __future__ import annotations

import logging
from typing import Iterator, Sequence

from tqdm import tqdm

from lbt.engines.base import Backend, Completion, GenerationRequest, GenerationStats, Sample
from lbt.engines.cache import RequestCache, cache_key

log = logging.getLogger(__name__)


class Engine:
    """What stages call: requests in, `n` completions per request out, through the cache."""

    def __init__(self, backend: Backend, cache: RequestCache | None, name: str, chunk_size: int = 256,
                 prompt_prefix: str | None = None):
        self.backend, self.cache, self.name, self.chunk_size = backend, cache, name, chunk_size
        self.prompt_prefix = prompt_prefix  # the model entry's: put first in every prompt, here and only here
        self.stats = GenerationStats()

    def generate(self, requests: Sequence[GenerationRequest], desc: str = "generate") -> list[list[Completion]]:
        requests = [r.with_prompt_prefix(self.prompt_prefix) for r in requests]
        samples = [s for r in requests for s in r.samples()]
        keys = [cache_key(s) for s in samples]
        identity = self.backend.identity
        done = self.cache.get_many(identity, keys) if self.cache else {}
        todo: dict[tuple[str, int], Sample] = {}
        for key, sample in zip(keys, samples):
            if key not in done:
                todo.setdefault(key, sample)
        from_cache = sum(key in done for key in keys)
        log.info("%s: %d samples, %d from the cache, %d identical to another, %d to generate", desc, len(samples),
                 from_cache, len(samples) - from_cache - len(todo), len(todo))
        pending = list(todo.items())
        if pending and self.cache is not None:
            self.cache.ensure_writable(len(pending))  # fail before generating, not after the first chunk
        with tqdm(total=len(pending), desc=f"{desc} [{self.name}]", mininterval=2, disable=not pending) as bar:
            for indices, completions in self._blocks([s for _, s in pending]):
                fresh = [(pending[i][0], c) for i, c in zip(indices, completions)]
                if self.cache:
                    self.cache.put_many(identity, fresh)
                done.update(fresh)
                bar.update(len(fresh))
        self.stats.requested += len(samples)
        self.stats.generated += len(todo)
        self.stats.from_cache += from_cache
        out, it = [], iter(keys)
        for r in requests:
            out.append([done[next(it)] for _ in range(r.n)])
        return out

    def _blocks(self, samples: list[Sample]) -> Iterator[tuple[list[int], list[Completion]]]:
        """(indices into `samples`, their completions), block by block: a backend that generates
        elsewhere (a Ray cluster) streams its blocks as they land; any other, chunk after chunk."""
        stream = getattr(self.backend, "stream", None)
        if stream is not None:
            yield from stream(samples)
            return
        for start in range(0, len(samples), self.chunk_size):
            indices = list(range(start, min(start + self.chunk_size, len(samples))))
            yield indices, self.backend.generate_samples(samples[start : indices[-1] + 1])

    def close(self) -> None:
        """Release the backend's resources; the engine cannot generate afterwards."""
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
