"""Blocks of work over a fixed set of Ray actors, yielded as each lands, surviving workers that die.

Ray places the actors and restarts one that dies (up to its `max_restarts`); this only keeps
`slots` tasks queued at each live actor, and when one dies puts its blocks back in the queue
(`resent` counts their items: generated twice at most), asks the actor whether it is back
(`__ray_ready__`) before sending it more, and gives up with one sentence when a block has killed
its worker more often than Ray would restart it, or when no worker is left.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any, Callable, Iterator, Sequence

from lbt.engines.ray_cluster import RayError

log = logging.getLogger(__name__)
_PROBE_PAUSE_S = 0.2  # between two questions to a restarting actor


def dispatch(ray, actors: Sequence[Any], blocks: list[list[int]], call: Callable[[Any, list[int]], Any],
             name: str, max_restarts: int, slots: int, counter: dict[str, int]) -> Iterator[tuple[list[int], Any]]:
    """(block, result of `call(actor, block)`) for every block, in the order they land."""
    queue = collections.deque(range(len(blocks)))
    free = [a for _ in range(slots) for a in range(len(actors))]
    in_flight: dict[Any, tuple[int, int]] = {}  # task -> (actor, block)
    probes: dict[Any, int] = {}  # readiness question -> actor
    dead: set[int] = set()
    deaths = collections.Counter()
    while queue or in_flight:
        while queue and free:
            a, b = free.pop(0), queue.popleft()
            in_flight[call(actors[a], blocks[b])] = (a, b)
        if not in_flight and not probes:
            raise RayError(f"{name}: every Ray worker died and Ray restarts them no more; the blocks that landed "
                           f"are in the request cache: rerun the stage to generate the {_size(blocks, queue)} "
                           "samples still missing.")
        [ref], _ = ray.wait([*in_flight, *probes], num_returns=1)
        if ref in probes:
            _answered(ray, ref, probes, actors, free, dead, in_flight, slots)
            continue
        a, b = in_flight.pop(ref)
        try:
            result = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            deaths[b] += 1
            if deaths[b] > max_restarts:
                raise RayError(f"{name}: one block's Ray worker died {deaths[b]} times ({_brief(exc)}); the blocks "
                               f"that landed are in the request cache: find what kills it (memory?), then rerun "
                               f"the stage to generate the {_size(blocks, [b, *queue])} samples still missing.") from None
            queue.appendleft(b)
            counter["resent"] += len(blocks[b])
            log.warning("%s: a Ray worker died (%s): its block of %d is sent again", name, _brief(exc), len(blocks[b]))
            if a not in probes.values() and a not in dead:
                free[:] = [x for x in free if x != a]
                probes[actors[a].__ray_ready__.remote()] = a
            continue
        free.append(a)
        yield blocks[b], result


def _answered(ray, ref, probes, actors, free, dead, in_flight, slots) -> None:
    """An actor said whether it is back: give it its slots, ask again later, or count it dead."""
    a = probes.pop(ref)
    try:
        ray.get(ref)
    except ray.exceptions.ActorUnavailableError:  # still restarting
        time.sleep(_PROBE_PAUSE_S)
        probes[actors[a].__ray_ready__.remote()] = a
        return
    except ray.exceptions.RayActorError:  # restarts used up
        dead.add(a)
        return
    busy = sum(1 for x, _ in in_flight.values() if x == a)
    free.extend([a] * max(0, slots - busy))


def _size(blocks: list[list[int]], pending) -> int:
    return sum(len(blocks[b]) for b in pending)


def _brief(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160]


def gather(stream: Iterator[tuple[list[int], list[Any]]], n: int) -> list[Any]:
    """The results of a stream of (indices, results) blocks, in index order."""
    out: list[Any] = [None] * n
    for indices, results in stream:
        for i, result in zip(indices, results):
            out[i] = result
    return out
