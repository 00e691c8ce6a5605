"""A model folder's fingerprint: changes whenever its weights, config or tokenizer change.

Used in cache keys, so a retrained model never reuses another model's generations. Small files
are hashed whole; large weight shards by size plus their first and last MiB (hashing 16 GB of a
real checkpoint on every run would cost minutes).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_WHOLE_FILE_LIMIT = 64 * 2**20
_CHUNK = 2**20


def folder_fingerprint(path: str | Path) -> str:
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"Model folder {root} does not exist: train or download it first, or fix its path in params.yaml.")
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue
        size = file.stat().st_size
        digest.update(f"{rel}\0{size}\0".encode())
        with file.open("rb") as fh:
            if size <= _WHOLE_FILE_LIMIT:
                digest.update(fh.read())
            else:
                digest.update(fh.read(_CHUNK))
                fh.seek(size - _CHUNK)
                digest.update(fh.read(_CHUNK))
    return digest.hexdigest()[:16]


def model_identity(backend: str, path: str | Path, dtype: str) -> str:
    """A local backend's cache identity: whoever generates (this process or a Ray worker) shares it."""
    return f"{backend}:{folder_fingerprint(path)}:{dtype}"
