"""RequestCache on its own: lookups over many requests, and failures named in one sentence.

We run as root, where chmod does not stop writes; the real read-only situations here use
`chattr +i` (an immutable file or folder: even root cannot write it), which needs
CAP_LINUX_IMMUTABLE and a file system with attributes. Those tests skip when `chattr` is
missing or refused; the explicit `read_only=True` flag is tested everywhere.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbt.engines.base import GenerationRequest
from lbt.engines.engine import Engine
from lbt.engines.base import Completion, Sample
from lbt.engines.cache import CacheError, RequestCache, cache_key

BACKEND = "test:backend"


def _completion(request: str, idx: int) -> Completion:
    return Completion(text=f"text of {request[:8]} #{idx} " + "x" * (idx % 7), n_tokens=idx + 3,
                      finish_reason="length" if idx % 3 == 0 else "stop")


def _digest(i: int) -> str:
    return f"{i:064x}"


def test_lookups_return_exactly_the_stored_samples(tmp_path: Path) -> None:
    cache = RequestCache(tmp_path / "cache.sqlite")
    rng = random.Random(0)
    stored = {(_digest(r), i) for r in range(1500) for i in range(rng.randrange(1, 6))}  # > 1 query chunk
    cache.put_many(BACKEND, [(key, _completion(*key)) for key in sorted(stored)])
    cache.put_many("other:backend", [((_digest(r), 0), Completion("other", 1)) for r in range(2000, 2100)])
    wanted = [(_digest(r), i) for r in range(0, 2200, 1) for i in range(rng.randrange(0, 8))]
    wanted += wanted[:50]  # duplicates, as greedy requests produce
    rng.shuffle(wanted)

    found = cache.get_many(BACKEND, wanted)

    expected = {key: _completion(*key) for key in wanted if key in stored}
    assert found == expected
    assert 0 < len(expected) < len(set(wanted))  # a real mix of present and absent keys
    assert cache.get_many(BACKEND, []) == {}
    assert cache.get_many("no:such-backend", wanted) == {}


# -- a fake backend for Engine-level checks ----------------------------------------------------


class _CountingBackend:
    identity = "counting"

    def __init__(self) -> None:
        self.generated: list[Sample] = []

    def generate_samples(self, samples: list[Sample]) -> list[Completion]:
        self.generated.extend(samples)
        return [Completion(f"{s.request.prompt} #{s.index}", 2) for s in samples]


def _requests(count: int, n: int = 3) -> list[GenerationRequest]:
    return [GenerationRequest(prompt=f"question {q}", n=n, seed=q) for q in range(count)]


def _filled(path: Path, requests: list[GenerationRequest]) -> list[list[Completion]]:
    cache = RequestCache(path)
    out = Engine(_CountingBackend(), cache, "fill").generate(requests)
    cache.close()
    return out


# -- corrupt files -----------------------------------------------------------------------------


def test_random_bytes_are_named_with_where_to_move_them(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(random.Random(1).randbytes(8192))

    with pytest.raises(CacheError) as caught:
        RequestCache(path)

    message = str(caught.value)
    assert message.startswith(f"The request cache {path} is not a usable SQLite database")
    assert f"mv {path} {path}.broken" in message and "cache_path" in message
    assert message.endswith(".") and message.count(". ") == 0  # one sentence
    assert isinstance(caught.value, RuntimeError)


def test_a_damaged_database_is_named_at_lookup(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    requests = _requests(400)
    _filled(path, requests)
    data = bytearray(path.read_bytes())
    data[8192:] = random.Random(2).randbytes(len(data) - 8192)  # keep the header, break the pages
    path.write_bytes(bytes(data))

    with pytest.raises(CacheError, match=rf"{path} is not a usable SQLite database .*\.broken"):
        cache = RequestCache(path)
        cache.get_many("counting", [cache_key(s) for r in requests for s in r.samples()])


# -- read-only caches --------------------------------------------------------------------------


def test_read_only_flag_serves_a_fully_cached_stage(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    requests = _requests(5)
    first = _filled(path, requests)
    before = path.read_bytes()

    backend = _CountingBackend()
    again = Engine(backend, RequestCache(path, read_only=True), "again").generate(requests)

    assert again == first and backend.generated == []
    assert path.read_bytes() == before


def test_read_only_flag_stops_before_generating(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    _filled(path, _requests(5))
    backend = _CountingBackend()
    engine = Engine(backend, RequestCache(path, read_only=True), "more")

    with pytest.raises(CacheError) as caught:
        engine.generate(_requests(6))  # one request more: 3 samples to generate

    assert backend.generated == []
    message = str(caught.value)
    assert message == (
        f"The request cache {path} is read-only (it was opened read-only on request) and 3 samples are not "
        "in it: make it writable, or point cache_path elsewhere."
    )


def test_read_only_flag_without_a_file_needs_everything(tmp_path: Path) -> None:
    path = tmp_path / "nothing-here.sqlite"
    engine = Engine(_CountingBackend(), RequestCache(path, read_only=True), "empty")

    with pytest.raises(CacheError, match=r"is read-only .* and 6 samples are not in it"):
        engine.generate(_requests(2))
    assert not path.exists()


def _chattr(flag: str, *paths: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True).returncode == 0


@pytest.fixture
def immutable() -> Iterator:
    """`immutable(path, ...)` makes paths immutable (chattr +i) until the test ends; skips if it cannot."""
    done: list[Path] = []

    def make(*paths: Path) -> None:
        if not _chattr("+i", *paths):
            pytest.skip("chattr +i is not available here (no chattr, no CAP_LINUX_IMMUTABLE, or no xattr support)")
        done.extend(paths)
        for path in paths:
            assert not os.access(path, os.W_OK)

    yield make
    if done:
        _chattr("-i", *done)


@pytest.mark.parametrize("what", ["file", "folder", "file and folder"])
def test_an_immutable_wal_cache_serves_a_cached_stage(tmp_path: Path, immutable, what: str) -> None:
    folder = tmp_path / "cache"
    path = folder / "cache.sqlite"
    requests = _requests(300)
    first = _filled(path, requests)
    assert sorted(p.name for p in folder.iterdir()) == ["cache.sqlite"]  # WAL checkpointed on close
    immutable(*{"file": [path], "folder": [folder], "file and folder": [path, folder]}[what])

    backend = _CountingBackend()
    cache = RequestCache(path)  # no flag: it finds out on its own
    again = Engine(backend, cache, "again").generate(requests)

    assert again == first and backend.generated == [] and not cache.writable
    with pytest.raises(CacheError, match=rf"^The request cache {path} is read-only \(.*\) and 3 samples"):
        Engine(backend, cache, "more").generate(_requests(301))
    assert backend.generated == []


def test_a_folder_that_cannot_be_created_is_named(tmp_path: Path, immutable) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    immutable(parent)
    path = parent / "sub" / "cache.sqlite"

    backend = _CountingBackend()
    with pytest.raises(CacheError, match=rf"{path} is read-only \(its folder cannot be created.*\) and 3 samples"):
        Engine(backend, RequestCache(path), "new").generate(_requests(1))
    assert backend.generated == []
