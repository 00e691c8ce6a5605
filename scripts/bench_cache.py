"""How long `RequestCache.get_many` takes as the cache grows (10k, 100k, 1M samples by default).

Fills one temporary cache with synthetic samples (64-hex request digests, `--per-request`
indices each, texts of 200-800 characters) in big transactions, growing it size by size, and at
each size times `get_many` the way `Engine.generate` calls it (one call with every key of a
stage, in request order) on a freshly opened cache: (a) up to 50k keys that are present, (b) 50k keys that are absent.
At sizes of 500k and more it also times a paper-sized fully cached exams stage: 417k present
keys in one call. Prints seconds and microseconds per key; asserts nothing about time.

    PYTHONPATH=. python scripts/bench_cache.py                 # 10k, 100k, 1M
    PYTHONPATH=. python scripts/bench_cache.py --sizes 10k 100k
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from pathlib import Path

from lbt.engines.base import Completion
from lbt.engines.cache import RequestCache

BACKEND = "hf:/models/student-bench"
LOOKUPS = 50_000
PAPER_KEYS = 417_000  # exam answers per teacher-student pair in the paper
FILL_BATCH = 100_000  # rows per transaction while filling


def parse_size(text: str) -> int:
    text = text.lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def digest(i: int) -> str:
    return hashlib.sha256(f"request {i}".encode()).hexdigest()


def fill(cache: RequestCache, first_request: int, last_request: int, per_request: int, rng: random.Random) -> None:
    """Samples of requests first..last-1, FILL_BATCH rows per put_many (one transaction each)."""
    corpus = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz      0123456789.,") for _ in range(20_000))
    batch: list[tuple[tuple[str, int], Completion]] = []
    for r in range(first_request, last_request):
        request = digest(r)
        for idx in range(per_request):
            start, length = rng.randrange(19_000), rng.randrange(200, 801)
            batch.append(((request, idx), Completion(corpus[start : start + length], length // 5, "stop")))
        if len(batch) >= FILL_BATCH:
            cache.put_many(BACKEND, batch)
            batch = []
    if batch:
        cache.put_many(BACKEND, batch)


def timed_lookup(cache: RequestCache, keys: list[tuple[str, int]], expect: int) -> float:
    start = time.perf_counter()
    found = cache.get_many(BACKEND, keys)
    seconds = time.perf_counter() - start
    if len(found) != expect:
        raise SystemExit(f"get_many found {len(found)} of {len(keys)} keys, expected {expect}")
    return seconds


def present_keys(n_requests: int, per_request: int, count: int, rng: random.Random) -> list[tuple[str, int]]:
    chosen = rng.sample(range(n_requests), min(n_requests, -(-count // per_request)))
    return [(digest(r), idx) for r in chosen for idx in range(per_request)][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["10k", "100k", "1M"], help="cached samples, e.g. 10k 100k 1M")
    parser.add_argument("--per-request", type=int, default=8, help="samples per request (indices 0..n-1)")
    parser.add_argument("--dir", default=None, help="where to put the temporary cache (default: system temp)")
    args = parser.parse_args()
    sizes = sorted(parse_size(s) for s in args.sizes)
    rng = random.Random(0)
    absent = [(hashlib.sha256(f"absent {i}".encode()).hexdigest(), i % args.per_request) for i in range(LOOKUPS)]

    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        cache = RequestCache(Path(tmp) / "bench.sqlite")
        n_requests = 0
        for size in sizes:
            target = -(-size // args.per_request)
            start = time.perf_counter()
            fill(cache, n_requests, target, args.per_request, rng)
            n_requests = target
            filled = time.perf_counter() - start
            cache.close()  # a stage opens the cache afresh: the WAL is checkpointed, SQLite's page cache cold
            cache = RequestCache(cache.path)
            present = present_keys(n_requests, args.per_request, LOOKUPS, rng)
            t_present = timed_lookup(cache, present, len(present))
            t_absent = timed_lookup(cache, absent, 0)
            row = [size, filled, len(present), t_present, t_absent, None]
            if size >= 500_000:
                paper = present_keys(n_requests, args.per_request, PAPER_KEYS, rng)
                row[5] = (len(paper), timed_lookup(cache, paper, len(paper)))
            rows.append(row)
            print(f"{size:>9,} cached: filled in {filled:6.1f} s; {len(present):,} present keys {t_present:.3f} s "
                  f"({t_present / len(present) * 1e6:.1f} us/key); {len(absent):,} absent keys {t_absent:.3f} s "
                  f"({t_absent / len(absent) * 1e6:.1f} us/key)", flush=True)
        cache.close()

    print()
    print("| cached samples | s per 50k present | us/key present | s per 50k absent | us/key absent |")
    print("|---:|---:|---:|---:|---:|")
    for size, _, n_present, t_present, t_absent, _ in rows:
        per_key = t_present / n_present
        print(f"| {size:,} | {per_key * LOOKUPS:.3f} | {per_key * 1e6:.1f} | {t_absent:.3f} | {t_absent / LOOKUPS * 1e6:.1f} |")
    per_key = [r[3] / r[2] for r in rows]
    print(f"\npresent-key cost, largest/smallest size: {max(per_key) / min(per_key):.2f}x")
    for size, *_, paper in rows:
        if paper:
            n, seconds = paper
            print(f"paper-sized exams stage: {n:,} present keys against {size:,} cached samples in {seconds:.2f} s "
                  f"({seconds / n * 1e6:.1f} us/key)")


if __name__ == "__main__":
    main()
