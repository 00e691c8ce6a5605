"""Engines by backend name, each wrapped in the request cache."""

from __future__ import annotations

from pathlib import Path

from lbt.engines.cache import RequestCache
from lbt.engines.config import HFModel, ModelConfig, OpenAIModel, VLLMModel
from lbt.engines.engine import Engine

DEFAULT_CHUNK = 256  # samples per backend call (and cache write) for the other backends

BACKEND_MODULES = {"hf": "lbt.engines.hf", "vllm": "lbt.engines.vllm", "openai": "lbt.engines.openai"}
RAY_MODULES = {"hf": "lbt.engines.ray_pool", "vllm": "lbt.engines.ray_vllm"}  # a model with `ray:` set


def make_backend(config: ModelConfig):
    """The backend for one model entry; heavy libraries are imported only when used."""
    if isinstance(config, HFModel) and config.ray is not None:
        from lbt.engines.ray_pool import RayPoolBackend

        return RayPoolBackend(config)
    if isinstance(config, VLLMModel) and config.ray is not None:
        from lbt.engines.ray_vllm import RayVLLMBackend

        return RayVLLMBackend(config)
    if isinstance(config, HFModel):
        from lbt.engines.hf import HFBackend

        return HFBackend(config)
    if isinstance(config, VLLMModel):
        from lbt.engines.vllm import VLLMBackend

        return VLLMBackend(config)
    if isinstance(config, OpenAIModel):
        from lbt.engines.openai import OpenAIBackend

        return OpenAIBackend(config)
    raise TypeError(f"No backend for {type(config).__name__}.")


def make_engine(config: ModelConfig, cache_path: str | Path | None) -> Engine:
    """The engine of one model entry; an hf model's chunks are its batches, so the progress bar and the
    cache advance batch by batch (a real model's batch takes minutes on a CPU)."""
    cache = RequestCache(cache_path) if cache_path else None
    chunk = config.batch_size if isinstance(config, HFModel) else DEFAULT_CHUNK
    return Engine(make_backend(config), cache, config.name, chunk_size=chunk, prompt_prefix=config.prompt_prefix)
