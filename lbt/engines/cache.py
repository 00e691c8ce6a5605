"""A persistent request cache (SQLite) in front of any backend.

Every sample is stored under (backend identity, request digest, sample index) as soon as its
chunk is generated, so a re-run costs no generation, a larger `n` only pays for the new
samples, and a run killed half-way resumes where it stopped.

Lookups walk the primary key: one `request IN (...)` query per few hundred requests, so their
cost per key does not grow with the size of the cache. A cache that cannot be written (a
read-only file, folder or mount, or `read_only=True`) is opened read-only and still serves
every sample it holds; `ensure_writable` says, before anything is generated, when a stage would
need to write to it. Every failure is a `CacheError` whose message names the file and the fix.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

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
_SQLITE_HEADER = b"SQLite format 3\x00"
_REQUESTS_PER_QUERY = 500  # measured: 200 to 2,000 all cost ~5 us per key; far below SQLite's 32,766 variables
_BUSY_TIMEOUT_S = 60
# SQLite result codes (primary, low byte) that mean "this file is not a usable database".
_CORRUPT_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
_READONLY_CODES = {"SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH"}


class CacheError(RuntimeError):
    """The request cache cannot be read or written; the message names the file and what to do."""


class RequestCache:
    """Samples by (backend identity, request digest, index), in one SQLite file.

    `read_only=True` opens an existing file without ever writing to it (a shared, frozen
    cache); a cache is also opened read-only on its own when its file or folder is not writable.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        self.db: sqlite3.Connection | None = None
        self.writable = False
        self._has_table = False
        self._closed = False
        self._why_read_only = "it was opened read-only on request" if read_only else ""
        if not read_only:
            self._why_read_only = self._why_not_writable()
        self._check_header()
        if not self._why_read_only:
            try:
                self._open_read_write()
                return
            except sqlite3.DatabaseError as exc:
                if _code(exc) not in _READONLY_CODES:
                    raise self._error(exc) from None
                self._why_read_only = f"SQLite could not open it for writing: {exc}"
        self._open_read_only()

    # -- opening -----------------------------------------------------------------------------

    def _why_not_writable(self) -> str:
        """Why writes would fail here ("" when they look possible); root ignores chmod, not chattr."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"its folder cannot be created: {exc.strerror or exc}"
        if self.path.exists() and not os.access(self.path, os.W_OK):
            return "the file is not writable"
        if not os.access(folder, os.W_OK):
            return "its folder is not writable"  # WAL needs -wal and -shm files next to it
        for suffix in ("-wal", "-shm"):
            side = Path(f"{self.path}{suffix}")
            if side.exists() and not os.access(side, os.W_OK):
                return f"{side.name} next to it is not writable"
        return ""

    def _check_header(self) -> None:
        """Catch a file that is not SQLite at all before SQLite half-opens it."""
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(len(_SQLITE_HEADER))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise CacheError(
                f"The request cache {self.path} cannot be read ({exc.strerror or exc}): make it readable, "
                "or point cache_path elsewhere."
            ) from None
        if head and head != _SQLITE_HEADER:
            raise self._corrupt("file is not a database")

    def _open_read_write(self) -> None:
        self.db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA journal_size_limit=67108864")  # a big fill leaves no 300 MB -wal file behind
            self.db.execute(_SCHEMA)
            self.db.commit()
        except sqlite3.DatabaseError:
            self.db.close()
            self.db = None
            raise
        self.writable = self._has_table = True

    def _open_read_only(self) -> None:
        if not self.path.exists():
            return  # nothing cached and nowhere to write: every lookup misses
        location = quote(str(self.path.resolve()))
        # mode=ro reads a WAL database when SQLite may create or open its -shm file; in a
        # read-only folder it cannot, and only immutable=1 (no locks, no -shm) opens it.
        for options in ("mode=ro", "mode=ro&immutable=1"):
            db = sqlite3.connect(f"file:{location}?{options}", uri=True, timeout=_BUSY_TIMEOUT_S,
                                 check_same_thread=False)
            try:
                row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'samples'").fetchone()
            except sqlite3.DatabaseError as exc:
                db.close()
                if _code(exc) == "SQLITE_CANTOPEN" and options == "mode=ro":
                    continue
                raise self._error(exc) from None
            self.db, self._has_table = db, row is not None
            return

    # -- errors ------------------------------------------------------------------------------

    def _corrupt(self, detail: str) -> CacheError:
        return CacheError(
            f"The request cache {self.path} is not a usable SQLite database ({detail}): move it aside "
            f"(mv {self.path} {self.path}.broken) and rerun, or point cache_path elsewhere."
        )

    def _error(self, exc: sqlite3.DatabaseError) -> CacheError:
        code = _code(exc)
        if code in _CORRUPT_CODES:
            return self._corrupt(str(exc))
        if code in _READONLY_CODES:
            return CacheError(
                f"The request cache {self.path} cannot be written ({exc}): make it writable, "
                "or point cache_path elsewhere."
            )
        return CacheError(
            f"The request cache {self.path} failed ({code or type(exc).__name__}: {exc}): check the file "
            "and the disk it is on, or point cache_path elsewhere."
        )

    def ensure_writable(self, missing: int) -> None:
        """Raise `CacheError` now, before any generation, if `missing` new samples could not be stored."""
        if self.writable and self.db is not None:
            try:  # a real write, rolled back: catches what os.access cannot (read-only mounts...)
                self.db.execute("BEGIN IMMEDIATE")
                self.db.execute("INSERT OR REPLACE INTO samples VALUES ('', '', -1, '', 0, '')")
                return
            except sqlite3.DatabaseError as exc:
                if _code(exc) not in _READONLY_CODES:
                    raise self._error(exc) from None
                self.writable, self._why_read_only = False, str(exc)
            finally:
                if self.db.in_transaction:
                    self.db.rollback()
        raise CacheError(
            f"The request cache {self.path} is read-only ({self._why_read_only}) and {missing} samples "
            "are not in it: make it writable, or point cache_path elsewhere."
        )

    # -- reading and writing -----------------------------------------------------------------

    def get_many(self, backend: str, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Completion]:
        """The stored completions among `keys` (absent keys are simply left out)."""
        found: dict[tuple[str, int], Completion] = {}
        if self.db is None or not self._has_table or not keys:
            return found
        wanted = set(keys)
        top_index: dict[str, int] = {}
        for request, idx in wanted:
            if top_index.get(request, -1) < idx:
                top_index[request] = idx
        requests = sorted(top_index)  # neighbouring keys: fewer b-tree pages touched
        try:
            for start in range(0, len(requests), _REQUESTS_PER_QUERY):
                chunk = requests[start : start + _REQUESTS_PER_QUERY]
                rows = self.db.execute(
                    "SELECT request, idx, text, n_tokens, finish_reason FROM samples "
                    f"WHERE backend = ? AND request IN ({','.join('?' * len(chunk))}) AND idx <= ?",
                    (backend, *chunk, max(top_index[r] for r in chunk)),
                )
                for request, idx, text, n_tokens, finish in rows:
                    if (request, idx) in wanted:
                        found[(request, idx)] = Completion(text, n_tokens, finish)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        return found

    def put_many(self, backend: str, items: Sequence[tuple[tuple[str, int], Completion]]) -> None:
        """Store `items` in one transaction, committed before this returns."""
        if not self.writable or self.db is None:
            self.ensure_writable(len(items))
        assert self.db is not None
        try:
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?, ?)",
                    [(backend, req, idx, c.text, c.n_tokens, c.finish_reason) for (req, idx), c in items],
                )
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
        self._closed = True

    def count(self, backend: str | None = None) -> int:
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        if self.db is None or not self._has_table:
            return 0
        if backend is None:
            return self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM samples WHERE backend = ?", (backend,)).fetchone()[0]


def _code(exc: sqlite3.Error) -> str:
    """The primary SQLite result code name, e.g. SQLITE_READONLY for SQLITE_READONLY_DBMOVED."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    for primary in (*_CORRUPT_CODES, *_READONLY_CODES):
        if name == primary or name.startswith(primary + "_"):
            return primary
    return name


def cache_key(sample: Sample) -> tuple[str, int]:
    """Greedy samples are all the same: they share index 0."""
    index = 0 if sample.request.temperature == 0 else sample.index
    return sample.request.sampling_key(), index
