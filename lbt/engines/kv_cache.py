"""A KV cache that writes each decoding step in place: transformers' `DynamicCache` concatenates
every layer's keys and values with the new token's at every step, copying the whole cache (and
allocating a fresh one) each time. On a CPU that copy, not the model, was most of an exam batch's
time (SmolLM2, 16 rows of ~300 prompt tokens: `aten::cat` 81% of the CPU time in torch's profiler).

`ReservedCache(reserve)` holds each layer in a buffer with room for `reserve` more tokens than its
first update brought (the prompt), and hands the model views of the filled part; a step writes its
token into the room. Past the room it grows by doubling, so it is never wrong, only slower. Rows
that leave the batch (`batch_select_indices`) keep their room.
"""

from __future__ import annotations

from functools import partial

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer


class ReservedLayer(DynamicLayer):
    """One layer's keys and values: a buffer `[rows, heads, capacity, dim]`, filled up to `length`."""

    def __init__(self, reserve: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.reserve = reserve
        self.length = 0
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        new = key_states.shape[-2]
        if self._keys is None or self.length + new > self._keys.shape[-2]:
            self._grow(key_states, value_states, self.length + new)
        assert self._keys is not None and self._values is not None
        self._keys[..., self.length:self.length + new, :] = key_states
        self._values[..., self.length:self.length + new, :] = value_states
        self.length += new
        self.keys, self.values = self._keys[..., :self.length, :], self._values[..., :self.length, :]
        return self.keys, self.values

    def _grow(self, key_states: torch.Tensor, value_states: torch.Tensor, needed: int) -> None:
        """New buffers with room for `needed` tokens and the reserve (or twice the old room)."""
        old = 0 if self._keys is None else self._keys.shape[-2]
        capacity = max(needed + self.reserve, 2 * old)
        rows, heads, _, dim = key_states.shape
        keys = key_states.new_empty((rows, heads, capacity, dim))
        values = value_states.new_empty((rows, value_states.shape[1], capacity, value_states.shape[-1]))
        if self.length:
            assert self._keys is not None and self._values is not None
            keys[..., :self.length, :] = self._keys[..., :self.length, :]
            values[..., :self.length, :] = self._values[..., :self.length, :]
        self._keys, self._values = keys, values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.length > 0 and self._keys is not None and self._values is not None:
            self._keys, self._values = self._keys[indices, ...], self._values[indices, ...]
            self.keys, self.values = self._keys[..., :self.length, :], self._values[..., :self.length, :]

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("ReservedCache is for decoding forward only (no cropping).")

    def batch_repeat_interleave(self, repeats: int) -> None:
        raise NotImplementedError("ReservedCache is for decoding forward only (no beam search).")


class ReservedCache(DynamicCache):
    """A `DynamicCache` whose layers reserve room for `reserve` tokens past the prompt."""

    def __init__(self, reserve: int):
        Cache.__init__(self, layer_class_to_replicate=partial(ReservedLayer, reserve))
