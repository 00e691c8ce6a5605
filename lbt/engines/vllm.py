"""Offline vLLM backend (GPU only): one `vllm.LLM` in this process, one `generate` call per batch.

Every `Sample` becomes its own prompt with `n=1` and the sample's own seed, so a sample's text
does not depend on which other samples share its batch. The whole batch goes to vLLM at once so
it can schedule it and share cached prefixes (the exam prompts of one rationale start alike).
Targets vllm 0.32 (`pip install -e '.[vllm]'`).
"""

from __future__ import annotations

from typing import Any, Sequence

from lbt.engines.base import Completion, GenerationRequest, Sample
from lbt.engines.config import VLLMModel
from lbt.engines.fingerprint import model_identity

# vLLM's "no top-k" value. vllm 0.32's SamplingParams documents 0 (and quietly accepts -1,
# the off value of older releases, which reject 0).
_TOP_K_OFF = 0


class VLLMBackend:
    def __init__(self, config: VLLMModel):
        try:
            import vllm
        except ModuleNotFoundError as err:
            if err.name != "vllm":  # vllm is there but one of its own imports failed: show that
                raise
            raise ImportError(
                "The vllm backend needs the vllm package: install the extra with "
                "`pip install -e '.[vllm]'` on a machine with an NVIDIA GPU."
            ) from err
        self._vllm = vllm
        self.config = config
        self._identity = model_identity("vllm", config.path, config.dtype)
        self.llm = vllm.LLM(
            model=config.path,
            dtype=config.dtype,
            tensor_parallel_size=config.tensor_parallel_size,
            gpu_memory_utilization=config.gpu_memory_utilization,
            max_model_len=config.max_model_len,
            enable_prefix_caching=config.enable_prefix_caching,
            seed=0,
        )

    @property
    def identity(self) -> str:
        return self._identity

    def close(self) -> None:
        """Shut the engine down and free its GPU memory, so another model can load."""
        llm, self.llm = self.llm, None
        shutdown = getattr(getattr(llm, "llm_engine", None), "shutdown", None)
        if shutdown is not None:
            shutdown()
        del llm
        import gc

        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    def _chat_prompt(self, request: GenerationRequest) -> dict[str, Any]:
        """Render chat messages with the model's template, as token ids.

        Token ids, not text: a template that writes the BOS token itself would get a second one
        if vLLM tokenized the rendered text as a plain prompt (vLLM's own chat path does the same).
        """
        tokenizer = self.llm.get_tokenizer()
        text = tokenizer.apply_chat_template(
            [{"role": role, "content": content} for role, content in request.messages],
            tokenize=False,
            add_generation_prompt=True,
        )
        return {"prompt_token_ids": list(tokenizer.encode(text, add_special_tokens=False))}

    def _sampling_params(self, sample: Sample) -> Any:
        r = sample.request
        return self._vllm.SamplingParams(
            n=1,
            temperature=r.temperature,  # 0: vLLM samples greedily and ignores seed/top_p/top_k
            top_p=r.top_p,
            top_k=r.top_k if r.top_k > 0 else _TOP_K_OFF,
            max_tokens=r.max_tokens,
            seed=sample.seed,
            stop=list(r.stop),
        )

    def generate_samples(self, samples: Sequence[Sample]) -> list[Completion]:
        if not samples:
            return []
        rendered: dict[GenerationRequest, Any] = {}  # the n samples of a request share one prompt
        prompts = []
        for sample in samples:
            r = sample.request
            if r not in rendered:
                rendered[r] = r.prompt if r.messages is None else self._chat_prompt(r)
            prompts.append(rendered[r])
        params = [self._sampling_params(s) for s in samples]
        outputs = self.llm.generate(prompts, params, use_tqdm=True)
        if len(outputs) != len(samples):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(samples)} prompts.")
        completions = []
        for out in outputs:
            first = out.outputs[0]
            if first.finish_reason in (None, "abort", "error"):
                # Never hand an unfinished or failed generation to the cache as if it were real.
                raise RuntimeError(f"vLLM request {out.request_id} ended with {first.finish_reason!r}.")
            completions.append(
                Completion(
                    text=first.text,
                    n_tokens=len(first.token_ids),
                    finish_reason="length" if first.finish_reason == "length" else "stop",
                )
            )
        return completions
