"""A persistent request cache (SQLite) in front of any backend.

Every sample is stored under (backend identity, request digest, sample index) as soon as its
chunk is generated, so a re-run costs no generation, a larger `n` only pays for the new
samples, and a run killed half-way resumes where it stopped.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Sequence

from lbt.engines.base import Completion, Sample

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    backend TEXT NOT NULL,
    request TEXT NOT NULL,
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    n_tokens INTEGER NOT NULL,
    finish_reason TEXT NOT NULL,
    PRIMARY KEY (backend, request, idx)
) WITHOUT ROWID
"""


class RequestCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(_SCHEMA)

    def get_many(self, backend: str, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Completion]:
        found: dict[tuple[str, int], Completion] = {}
        wanted = sorted(set(keys))
        for start in range(0, len(wanted), 400):
            chunk = wanted[start : start + 400]
            where = " OR ".join(["(request = ? AND idx = ?)"] * len(chunk))
            params = [backend, *(v for key in chunk for v in key)]
            rows = self.db.execute(
                f"SELECT request, idx, text, n_tokens, finish_reason FROM samples WHERE backend = ? AND ({where})",
                params,
            )
            for request, idx, text, n_tokens, finish in rows:
                found[(request, idx)] = Completion(text, n_tokens, finish)
        return found

    def put_many(self, backend: str, items: Sequence[tuple[tuple[str, int], Completion]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?, ?)",
                [(backend, req, idx, c.text, c.n_tokens, c.finish_reason) for (req, idx), c in items],
            )

    def close(self) -> None:
        self.db.close()

    def count(self, backend: str | None = None) -> int:
        if backend is None:
            return self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM samples WHERE backend = ?", (backend,)).fetchone()[0]


def cache_key(sample: Sample) -> tuple[str, int]:
    """Greedy samples are all the same: they share index 0."""
    index = 0 if sample.request.temperature == 0 else sample.index
    return sample.request.sampling_key(), index
