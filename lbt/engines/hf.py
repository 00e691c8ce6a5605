"""The `hf` backend: transformers models on CPU or GPU, batched, with per-sample seeds.

The decode loop is our own rather than `model.generate` so that each row samples from its own
`torch.Generator` seeded with the sample's seed: a fixed seed then gives the same text whether
the sample is decoded alone or among others (left padding plus explicit position ids keep the
logits the same up to float rounding).

Two things make it fast (docs/engines.md): prompts of a batch that start with the same tokens
(an exam's TR, the n samples of one prompt) prefill that prefix once and copy its KV cache to
each of them (lbt/engines/prefix.py), and a row that ends leaves the batch.
"""

from __future__ import annotations

import inspect
import itertools
from typing import Sequence

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lbt.engines.base import Completion, Sample
from lbt.engines.config import HFModel
from lbt.engines.fingerprint import model_identity
from lbt.engines.kv_cache import ReservedCache
from lbt.engines.prefix import Group, pack, prefix_groups, single_rows

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
        # transformers 5.2x renamed `past_key_values` to `cache` (the old name warns, then goes in 5.40)
        self._cache_arg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"

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
        results: dict[int, Completion] = {}
        by_settings: dict[tuple, list[int]] = {}
        for i, sample in enumerate(samples):  # a batch shares its sampling settings
            by_settings.setdefault(_settings(sample), []).append(i)
        for members in by_settings.values():
            chat = samples[members[0]].request.messages is not None
            prompts = self.tokenizer([texts[i] for i in members], add_special_tokens=not chat).input_ids
            rooms = self._rooms([samples[i] for i in members], prompts)
            results.update((i, Completion(text="", n_tokens=0, finish_reason="length"))
                           for i, room in zip(members, rooms) if room <= 0)
            fits = [k for k, room in enumerate(rooms) if room > 0]
            fit_prompts = [prompts[k] for k in fits]
            groups = (prefix_groups(fit_prompts, self.config.batch_size) if self.config.share_prefix
                      else single_rows(fit_prompts))
            for batch in pack(groups, fit_prompts, self.config.batch_size):
                rows = [fits[r] for g in batch for r in g.rows]  # indices into members, group by group
                done = self._decode([samples[members[k]] for k in rows], [prompts[k] for k in rows],
                                    [rooms[k] for k in rows], batch)
                results.update(zip([members[k] for k in rows], done))
        return [results[i] for i in range(len(samples))]

    def _rooms(self, samples: list[Sample], prompts: list[list[int]]) -> list[int]:
        """Tokens the model may generate after each prompt within its context (positions): a prompt
        that fills the context gets an empty completion (a wrong answer, never a crash)."""
        if self.max_positions is None:
            return [s.request.max_tokens for s in samples]
        return [min(s.request.max_tokens, self.max_positions - len(ids)) for s, ids in zip(samples, prompts)]

    @torch.inference_mode()
    def _decode(self, samples: list[Sample], prompts: list[list[int]], limits: list[int],
                groups: list[Group]) -> list[Completion]:
        """Decode one batch whose rows come in groups: rows of a group share their first `shared`
        tokens, prefilled once (see `_prefill`). A row that ends (EOS, stop string, its limit)
        leaves the batch, so later steps run on fewer rows."""
        request = samples[0].request
        generators = [torch.Generator().manual_seed(s.seed) for s in samples]
        tokens: list[list[int]] = [[] for _ in samples]
        finish = ["length"] * len(samples)
        out, cache, mask, step_pos = self._prefill(prompts, groups, max(limits))
        active = list(range(len(samples)))  # the rows still decoding, in the batch's row order
        for _ in range(max(limits)):
            chosen = pick_next_tokens(out.logits[:, -1, :].float(), request, [generators[r] for r in active])
            keep = []
            for slot, (row, token) in enumerate(zip(active, chosen.tolist())):
                if token in self.eos_ids:
                    finish[row] = "stop"
                    continue
                tokens[row].append(token)
                if request.stop and self._hit_stop(tokens[row], request.stop):
                    finish[row] = "stop"
                elif len(tokens[row]) < limits[row]:
                    keep.append(slot)
            if not keep:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=mask.device)
                cache.batch_select_indices(index)
                mask, step_pos, chosen = mask[index], step_pos[index], chosen[keep]
                active = [active[slot] for slot in keep]
            step_ids = chosen.unsqueeze(-1).to(mask.device)
            step_pos = step_pos[:, -1:] + 1
            if self.max_positions is not None:
                step_pos = step_pos.clamp(max=self.max_positions - 1)
            mask = torch.cat([mask, torch.ones_like(step_ids)], dim=-1)
            out = self._forward(step_ids, mask, step_pos, cache)
        return [self._completion(t, f, request.stop) for t, f in zip(tokens, finish)]

    def _prefill(self, prompts: list[list[int]], groups: list[Group], new_tokens: int):
        """The prompts' forward pass: first each group's shared prefix once (left-padded), its KV
        cache then copied to the group's rows, then every row's own suffix (left-padded too). A row
        reads [pad | prefix | pad | suffix]; the attention mask hides the pads and the position ids
        count real tokens only, so each row sees what it would see alone. The KV cache reserves room
        for the suffixes and `new_tokens` (lbt/engines/kv_cache.py)."""
        device, pad = self.config.device, self.tokenizer.pad_token_id
        shared = [g.shared for g in groups for _ in g.rows]
        suffix_width = max(len(p) - n for p, n in zip(prompts, shared))
        cache = ReservedCache(reserve=suffix_width + new_tokens)
        mask = torch.zeros((len(prompts), 0), dtype=torch.long, device=device)
        if max(shared) > 0:
            firsts = itertools.accumulate([0] + [len(g.rows) for g in groups[:-1]])
            ids, prefix_mask = _left_pad([prompts[i][:g.shared] for i, g in zip(firsts, groups)], pad, device)
            cache = _cache_of(self._forward(ids, prefix_mask, _positions(prefix_mask), cache))
            index = torch.tensor([k for k, g in enumerate(groups) for _ in g.rows], device=device)
            cache.batch_select_indices(index)
            mask = prefix_mask[index]
        ids, suffix_mask = _left_pad([p[n:] for p, n in zip(prompts, shared)], pad, device)
        mask = torch.cat([mask, suffix_mask], dim=-1)
        positions = _positions(mask)[:, -ids.shape[1]:]
        out = self._forward(ids, mask, positions, cache)
        return out, _cache_of(out), mask, positions

    def _forward(self, ids, mask, positions, cache):
        # logits of the last position only: the prompt's other positions would cost a vocabulary-wide
        # matmul each (as model.generate, which keeps one too)
        return self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                          logits_to_keep=1, **{self._cache_arg: cache})

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


def _left_pad(rows: list[list[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask, each row padded on the left to the longest."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + list(r) for r in rows], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], dtype=torch.long)
    return ids.to(device), mask.to(device)


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """Each token's position among its row's real tokens (pads get 0; the mask hides them)."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def _cache_of(out):
    return out.cache if getattr(out, "cache", None) is not None else out.past_key_values


def _settings(sample: Sample) -> tuple:
    r = sample.request
    return (r.temperature, r.top_k, r.top_p, r.stop, r.messages is not None)


def _eos_ids(model, tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id}
    configured = model.generation_config.eos_token_id
    ids.update(configured if isinstance(configured, list) else [configured])
    return {i for i in ids if i is not None}
