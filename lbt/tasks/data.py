"""Raw input files checked by sha256 before use, and JSON-lines reading.

A task names each raw file by its path under a raw-data directory, its sha256 and where to get
it; `checked_file` stops with one sentence when the file is missing or differs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checked_file(raw_dir: Path, relative: str, sha256: str, source: str) -> Path:
    """The path of `raw_dir / relative` after checking its sha256; stops with one sentence
    (naming the path, the expected sha256 and `source`, where to get it) otherwise."""
    path = Path(raw_dir) / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"Missing input file {path} (expected sha256 {sha256}): get it from {source} "
            f"and place it at {relative} under the raw-data directory."
        )
    actual = sha256_file(path)
    if actual != sha256:
        raise ValueError(
            f"Input file {path} has sha256 {actual} but expected sha256 {sha256}: download it again from {source}."
        )
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """One JSON object per non-empty line."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
