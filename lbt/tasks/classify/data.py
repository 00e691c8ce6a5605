"""Liar and Logical Fallacy as binary problems tables, read from checksummed raw files.

- **liar** (ProTeGi's binary casting of LIAR: original labels `false` → 1, `true` → 0; text =
  statement / job title / state / party / context): train 3681 rows, held-out (test) 461.
- **fallacy** (Logical Fallacy, edu + climate): label 1 iff the fallacy is "faulty
  generalization"; text = the source article cut at `text_chars`; rows with an empty article
  dropped; train 2680, held-out = test (511) + dev (570).

Training rows get the train split's TP role, held-out rows the eval split's (lbt.tasks.base.SPLITS).
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from lbt.tasks import data
from lbt.tasks.base import PROBLEM_COLUMNS, SPLITS

LMOPS = "microsoft/LMOps @4f2a9de prompt_optimization/data/liar/ (MIT)"
FALLACY = "causalNLP/logical-fallacy @2a3d097 data/"

# {path under raw_dir: (sha256, where to get it)}
DATA_FILES: dict[str, dict[str, tuple[str, str]]] = {
    "liar": {
        "liar/protegi/train.jsonl": ("573ac065e16609a4ab0ae72751b2d3918ec6515dbb9a3adae1f244afe54ca989", LMOPS + " train.jsonl"),
        "liar/protegi/test.jsonl": ("c4400499e7d71cb57463e3f8d093962deb50a9e8f22fa377cad3c236eacfc8c3", LMOPS + " test.jsonl"),
    },
    "fallacy": {
        f"logical_fallacy/{name}.csv": (sha, f"{FALLACY}{name}.csv") for name, sha in {
            "edu_train": "0c6377dbf744ba85e60102eb9842cc770f385afcb2724f607e8e8a99f5d9545c",
            "edu_dev": "5c567eb12e604271d0ec10e456c5c0bedcf01bd8a2f56d84a5ca88744ece36af",
            "edu_test": "47f6b86ec6c5256e9db97844f86684dc1fdc72c593e14db230e532098f668534",
            "climate_train": "31daeb6476f3db3b864f6f3a0a40a689ebd07310636e4b943199d3b7bc50d841",
            "climate_dev": "cee102370d57d12118483bd70e4bdca9ce60de934f0668c4f037dee8ebbaf701",
            "climate_test": "16f296fb38e594f92512a8f05e6b8c526a978fafe9fce8f924faaf7ad7d3082a",
        }.items()
    },
}
# Rows per (dataset, part) after casting, as MANIFEST.md counts them.
EXPECTED = {("liar", "train"): 3681, ("liar", "heldout"): 461, ("fallacy", "train"): 2680, ("fallacy", "heldout"): 1081}
FALLACY_COLUMNS = {"edu": "updated_label", "climate": "logical_fallacies"}
POSITIVE_FALLACY = "faulty generalization"
EXTRA_COLUMNS = {"source": pl.String}  # the raw file a row came from


def load_problems(dataset: str, raw_dir: Path, text_chars: int) -> pl.DataFrame:
    files = {rel: data.checked_file(Path(raw_dir), rel, sha, src) for rel, (sha, src) in DATA_FILES[dataset].items()}
    parts = _liar(files) if dataset == "liar" else _fallacy(files, text_chars)
    rows = []
    for part, items in parts.items():
        if len(items) != EXPECTED[(dataset, part)]:
            raise ValueError(f"{dataset} {part}: {len(items)} rows where {EXPECTED[(dataset, part)]} are expected: "
                             f"the raw files under {raw_dir} differ from the documented ones.")
        role = SPLITS["train" if part == "train" else "eval"].tp_role
        for k, (text, label, source) in enumerate(items):
            pid = f"{dataset}:{part}:{k}"
            rows.append((pid, pid, role, text, None, str(label), source))
    return pl.DataFrame(rows, schema={**PROBLEM_COLUMNS, **EXTRA_COLUMNS}, orient="row")


def _liar(files: dict[str, Path]) -> dict[str, list[tuple[str, int, str]]]:
    out = {}
    for part, name in (("train", "train"), ("heldout", "test")):
        records = data.read_jsonl(files[f"liar/protegi/{name}.jsonl"])
        out[part] = [(r["text"], int(r["label"]), name) for r in records]
    return out


def _fallacy(files: dict[str, Path], text_chars: int) -> dict[str, list[tuple[str, int, str]]]:
    out: dict[str, list] = {"train": [], "heldout": []}
    for part, splits in (("train", ("train",)), ("heldout", ("test", "dev"))):
        for split in splits:
            for source, column in FALLACY_COLUMNS.items():
                name = f"{source}_{split}"
                with files[f"logical_fallacy/{name}.csv"].open(encoding="utf-8", newline="") as handle:
                    for row in csv.DictReader(handle):
                        text = (row.get("source_article") or "").strip()
                        if text:
                            label = int((row.get(column) or "").strip().lower() == POSITIVE_FALLACY)
                            out[part].append((text[:text_chars], label, name))
    return out
