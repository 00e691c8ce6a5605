"""The `hf` backend: transformers models on CPU or GPU, batched, with per-sample seeds.

The decode loop is our own rather than `model.generate` so that each row samples from its own
`torch.Generator` seeded with the sample's seed: a fixed seed then gives the same text whether
the sample is decoded alone or among others (left padding plus explicit position ids keep the
logits the same up to float rounding).
"""

from __future__ import annotations

from typing import Sequence

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lbt.engines.base import Completion, Sample
from lbt.engines.config import HFModel
from lbt.engines.fingerprint import model_identity

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class HFBackend:
    def __init__(self, config: HFModel):
        self.config = config
        if config.threads is not None:
            torch.set_num_threads(config.threads)  # process-wide: the last model loaded sets it
        self._identity = model_identity("hf", config.path, config.dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(config.path, local_files_only=True)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            config.path, dtype=_DTYPES[config.dtype], local_files_only=True
        ).to(config.device)
        self.model.eval()
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        config = self.model.config
        self.max_positions = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)

    @property
    def identity(self) -> str:
        return self._identity

    def close(self) -> None:
        """Drop the weights (and free cached GPU memory when on a GPU)."""
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def render(self, sample: Sample) -> str:
        request = sample.request
        if request.prompt is not None:
            return request.prompt
        if not self.tokenizer.chat_template:
            raise ValueError(
                f"Model {self.config.path} has no chat template: set chat: false for {self.config.name!r}."
            )
        messages = [{"role": role, "content": content} for role, content in request.messages]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate_samples(self, samples: Sequence[Sample]) -> list[Completion]:
        texts = [self.render(s) for s in samples]
        # Batch rows that share sampling settings, longest prompts together to limit padding.
        order = sorted(range(len(samples)), key=lambda i: (_settings(samples[i]), len(texts[i])))
        results: dict[int, Completion] = {}
        size = self.config.batch_size
        batches: list[list[int]] = []
        for i in order:
            if batches and len(batches[-1]) < size and _settings(samples[batches[-1][0]]) == _settings(samples[i]):
                batches[-1].append(i)
            else:
                batches.append([i])
        for batch in batches:
            rooms = self._rooms([samples[i] for i in batch], [texts[i] for i in batch])
            fits = [i for i, room in zip(batch, rooms) if room > 0]
            results.update((i, Completion(text="", n_tokens=0, finish_reason="length")) for i in batch if i not in fits)
            if fits:
                limits = [room for room in rooms if room > 0]
                results.update(zip(fits, self._decode([samples[i] for i in fits], [texts[i] for i in fits], limits)))
        return [results[i] for i in range(len(samples))]

    def _rooms(self, samples: list[Sample], texts: list[str]) -> list[int]:
        """Tokens the model may generate after each prompt of a batch (one sampling setting) within its
        context (positions): a prompt that fills the context gets an empty completion (a wrong
        answer, never a crash)."""
        if self.max_positions is None:
            return [s.request.max_tokens for s in samples]
        chat = samples[0].request.messages is not None
        lengths = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=not chat).input_ids]
        return [min(s.request.max_tokens, self.max_positions - n) for s, n in zip(samples, lengths)]

    @torch.inference_mode()
    def _decode(self, samples: list[Sample], texts: list[str], limits: list[int]) -> list[Completion]:
        request = samples[0].request
        chat = request.messages is not None
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not chat)
        ids = enc.input_ids.to(self.config.device)
        mask = enc.attention_mask.to(self.config.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        generators = [torch.Generator().manual_seed(s.seed) for s in samples]
        tokens: list[list[int]] = [[] for _ in samples]
        done = [False] * len(samples)
        finish = ["length"] * len(samples)
        past, step_ids, step_pos = None, ids, positions
        for step in range(max(limits)):
            # logits of the last position only: the prompt's other positions would cost a vocabulary-wide
            # matmul each at the first step (as model.generate, which keeps one too)
            out = self.model(input_ids=step_ids, attention_mask=mask, position_ids=step_pos,
                             past_key_values=past, use_cache=True, logits_to_keep=1)
            past = out.past_key_values
            chosen = pick_next_tokens(out.logits[:, -1, :].float(), request, generators)
            for row, token in enumerate(chosen.tolist()):
                if done[row]:
                    continue
                if token in self.eos_ids:
                    done[row], finish[row] = True, "stop"
                    continue
                tokens[row].append(token)
                if request.stop and self._hit_stop(tokens[row], request.stop):
                    done[row], finish[row] = True, "stop"
                elif len(tokens[row]) >= limits[row]:
                    done[row] = True
            if all(done):
                break
            step_ids = chosen.unsqueeze(-1).to(self.config.device)
            step_pos = step_pos[:, -1:] + 1
            if self.max_positions is not None:  # rows done at the context's end still run a step
                step_pos = step_pos.clamp(max=self.max_positions - 1)
            mask = torch.cat([mask, torch.ones_like(step_ids)], dim=-1)
        return [self._completion(t, f, request.stop) for t, f in zip(tokens, finish)]

    def _hit_stop(self, token_ids: list[int], stop: tuple[str, ...]) -> bool:
        tail = self.tokenizer.decode(token_ids[-16:], skip_special_tokens=True)
        return any(s in tail for s in stop)

    def _completion(self, token_ids: list[int], finish: str, stop: tuple[str, ...]) -> Completion:
        text = self.tokenizer.decode(token_ids, skip_special_tokens=True)
        for s in stop:  # the stop string itself is not part of the completion
            if s in text:
                text = text[: text.index(s)]
        return Completion(text=text.strip(), n_tokens=len(token_ids), finish_reason=finish)


def pick_next_tokens(logits: torch.Tensor, request, generators: list[torch.Generator]) -> torch.Tensor:
    """Greedy at temperature 0; else temperature, top-k, top-p, then one uniform draw per row."""
    if request.temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / request.temperature
    if request.top_k > 0:
        kth = torch.topk(logits, min(request.top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1, dtype=torch.float64)
    if request.top_p < 1.0:
        sorted_probs, idx = probs.sort(dim=-1, descending=True)
        drop = sorted_probs.cumsum(-1) - sorted_probs > request.top_p
        probs = probs.scatter(-1, idx, sorted_probs.masked_fill(drop, 0.0))
        probs = probs / probs.sum(-1, keepdim=True)
    cdf = probs.cumsum(-1)
    draws = torch.stack([torch.rand((), generator=g, dtype=torch.float64) for g in generators])
    picked = torch.searchsorted(cdf, (draws * cdf[:, -1]).unsqueeze(-1)).squeeze(-1)
    return picked.clamp(max=logits.shape[-1] - 1)


def _settings(sample: Sample) -> tuple:
    r = sample.request
    return (r.temperature, r.top_k, r.top_p, r.stop, r.messages is not None)


def _eos_ids(model, tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id}
    configured = model.generation_config.eos_token_id
    ids.update(configured if isinstance(configured, list) else [configured])
    return {i for i in ids if i is not None}
