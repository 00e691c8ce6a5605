"""Runs many M3 loops in lockstep so that each round is one batched call per model.

A loop is a generator: it yields the requests it needs, per model name ({model: [request]}), and
is sent back the completions in the same shape. The driver gathers one round of every live loop,
calls each model's engine once (through the request cache), and hands each loop its share.
"""

from __future__ import annotations

from typing import Any, Generator

from lbt.engines.base import Completion, GenerationRequest
from lbt.engines.engine import Engine

Calls = dict[str, list[GenerationRequest]]
Replies = dict[str, list[list[Completion]]]
Loop = Generator[Calls, Replies, Any]


def drive(loops: list[Loop], engines: dict[str, Engine], desc: str = "m3") -> list[Any]:
    """Every loop run to completion; their return values, in order."""
    results: list[Any] = [None] * len(loops)
    pending: dict[int, Calls] = {}
    for i, loop in enumerate(loops):
        _advance(i, loop, None, pending, results)
    round_no = 0
    while pending:
        round_no += 1
        merged: dict[str, list[GenerationRequest]] = {}
        for calls in pending.values():
            for model, requests in calls.items():
                if requests:
                    merged.setdefault(model, []).extend(requests)
        outputs = {m: engines[m].generate(reqs, desc=f"{desc} round {round_no}") for m, reqs in merged.items()}
        offsets = dict.fromkeys(outputs, 0)
        current, pending = pending, {}
        for i, calls in current.items():
            replies = {}
            for model, requests in calls.items():
                start = offsets.get(model, 0)
                replies[model] = outputs[model][start : start + len(requests)] if requests else []
                offsets[model] = start + len(requests)
            _advance(i, loops[i], replies, pending, results)
    return results


def _advance(i: int, loop: Loop, replies: Replies | None, pending: dict[int, Calls], results: list[Any]) -> None:
    """Send `replies` (or start the loop); skip rounds with no requests."""
    try:
        calls = loop.send(replies) if replies is not None else next(loop)
        while not any(calls.values()):
            calls = loop.send({m: [] for m in calls})
        pending[i] = calls
    except StopIteration as stop:
        results[i] = stop.value
