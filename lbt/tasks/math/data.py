"""The math task's problems table, read in place from the raw-data folder.

Every input file is checked by sha256 and tarballs are read without extracting them:

- the TPs are the 181 MATH500 test problems that have functional variants in all three MATH()
  snapshots (fneval Oct/Nov/Dec-2023); each TP's family id is its MATH id
  (`test/algebra/1.json`) and its 3 variants are its EPs (`Oct-2023:test/algebra/1.json`, ...);
  a TP's answer is MATH500's `answer` field;
- the other 1564 snapshot ids form the training pool (role `train`, text and solution from
  the MATH test set, answer from the solution's last `\\boxed{}`) with their 3 variants each
  (role `train_ep`, answer from the variant solution's last `\\boxed{}`).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

import polars as pl

from lbt.tasks import data
from lbt.tasks.base import POOL_ROLE, PROBLEM_COLUMNS
from lbt.tasks.math.extract import last_boxed_content

SNAPSHOTS = ("Oct-2023", "Nov-2023", "Dec-2023")
MATH500_FILE = "math500/test.jsonl"
MATH_FILE = "MATH/test.jsonl"
SNAPSHOT_FILES = {name: f"fneval/{name}.tar.gz" for name in SNAPSHOTS}

# {path relative to raw_dir: (sha256, where to get it)}
DATA_FILES: dict[str, tuple[str, str]] = {
    MATH500_FILE: (
        "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
        "openai/prm800k, file prm800k/math_splits/test.jsonl (MIT; a Git LFS object there)",
    ),
    MATH_FILE: (
        "6ae93d20270f23a8a9cd13aace256cdc066082226ab31e0d4fe3a0350c30351f",
        "the MATH test set (Hendrycks et al., MIT) as one JSON object per line, as in "
        "brando90/snap-cluster-setup @92976bd data/MATH/test/",
    ),
    SNAPSHOT_FILES["Oct-2023"]: (
        "11840167a0bc05cc728dd84d039d3ec97036fb28ed5d72bf123ecaf4cfb36324",
        "ConsequentAI/fneval @a89e561, file Oct-2023.tar.gz at the repository root (GPL-3.0)",
    ),
    SNAPSHOT_FILES["Nov-2023"]: (
        "06b667af3759c95db161ec96a84468c6b21b69766a287bf72a1f57c60227fc9f",
        "ConsequentAI/fneval @a89e561, file Nov-2023.tar.gz at the repository root (GPL-3.0)",
    ),
    SNAPSHOT_FILES["Dec-2023"]: (
        "58c5cba5df0f5460f25410ffda46b4624c17bb5748f95071eac084417d422c14",
        "ConsequentAI/fneval @a89e561, file Dec-2023.tar.gz at the repository root (GPL-3.0)",
    ),
}

EXPECTED_TPS = 181
EXPECTED_TRAIN = 1564
VARIANTS_PER_PROBLEM = len(SNAPSHOTS)

EXTRA_COLUMNS = {"level": pl.Int64, "subject": pl.String}


def checked_file(raw_dir: Path, relative: str) -> Path:
    """The path of one of DATA_FILES after checking its sha256; stops with one sentence otherwise."""
    sha256, source = DATA_FILES[relative]
    return data.checked_file(Path(raw_dir), relative, sha256, source)


def load_problems(raw_dir: Path, pool: bool = False) -> pl.DataFrame:
    """The problems table: rows in the order tp, ep, train, train_ep (then, with `pool`, the MATH
    test problems outside MATH500 test, ids `pool:<MATH id>`); by family id, snapshots in time
    order; PROBLEM_COLUMNS then EXTRA_COLUMNS."""
    paths = {relative: checked_file(raw_dir, relative) for relative in DATA_FILES}
    math500 = {r["unique_id"]: r for r in data.read_jsonl(paths[MATH500_FILE])}
    math_test = {r["unique_id"]: r for r in data.read_jsonl(paths[MATH_FILE])}
    snapshots = {name: _read_snapshot(paths[SNAPSHOT_FILES[name]], name) for name in SNAPSHOTS}
    family_ids = _common_ids(snapshots)
    tp_ids = sorted(family_ids & math500.keys())
    train_ids = sorted(family_ids - math500.keys())
    _check_counts(tp_ids, train_ids, math_test)
    rows = [_original_row(math500[i], "tp") for i in tp_ids]
    rows += [_variant_row(i, name, snapshots[name][i], "ep") for i in tp_ids for name in SNAPSHOTS]
    rows += [_original_row(math_test[i], "train") for i in train_ids]
    rows += [_variant_row(i, name, snapshots[name][i], "train_ep") for i in train_ids for name in SNAPSHOTS]
    if pool:
        rows += [{**_original_row(math_test[i], POOL_ROLE), "problem_id": f"pool:{i}", "family_id": f"pool:{i}"}
                 for i in sorted(math_test.keys() - math500.keys())]
    return pl.DataFrame(rows, schema={**PROBLEM_COLUMNS, **EXTRA_COLUMNS})


def slice_tps(problems: pl.DataFrame, levels: list[int] | None, max_tps: int | None) -> pl.DataFrame:
    """The problems table with only the TPs of `levels` (all when None), at most `max_tps` of them (the
    first by the sha256 of their id: spread over subjects, the same everywhere), and their EPs."""
    tps = problems.filter(pl.col("role") == "tp")
    if levels is not None:
        tps = tps.filter(pl.col("level").is_in(levels))
    kept = sorted(tps["problem_id"], key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:max_tps]
    if not kept:
        raise ValueError(f"math.levels {levels} selects no teaching problem: use levels between 1 and 5.")
    eval_roles = pl.col("role").is_in(["tp", "ep"])
    return problems.filter(~eval_roles | pl.col("family_id").is_in(kept))


def math500_problems(raw_dir: Path) -> pl.DataFrame:
    """All 500 MATH500 test problems (role `tp`, each its own family), as rows of the problems table."""
    records = data.read_jsonl(checked_file(raw_dir, MATH500_FILE))
    return pl.DataFrame([_original_row(r, "tp") for r in records], schema={**PROBLEM_COLUMNS, **EXTRA_COLUMNS})


def _read_snapshot(path: Path, snapshot: str) -> dict[str, dict[str, Any]]:
    """{MATH id: record} of one MATH() tarball, read in memory."""
    records: dict[str, dict[str, Any]] = {}
    prefix = snapshot + "/"
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            if not (member.isfile() and member.name.endswith(".json")):
                continue
            handle = archive.extractfile(member)
            assert handle is not None
            problem_id = member.name[len(prefix) :] if member.name.startswith(prefix) else member.name
            records[problem_id] = json.loads(handle.read())
    return records


def _level(value: Any) -> int | None:
    """1-5 from `3` or `"Level 3"`; None for anything else (MATH has a few `Level ?`)."""
    text = str(value).removeprefix("Level").strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= 5 else None


def _boxed_answer(solution: str, where: str) -> str:
    answer = last_boxed_content(solution)
    if answer is None:
        raise ValueError(f"The solution of {where} has no \\boxed{{}} answer; the input file looks damaged.")
    return answer



def _common_ids(snapshots: dict[str, dict[str, dict[str, Any]]]) -> set[str]:
    id_sets = [set(records) for records in snapshots.values()]
    common = set.intersection(*id_sets)
    if any(ids != common for ids in id_sets):
        raise ValueError("The MATH() snapshots do not hold the same problem ids; check the fneval tarballs.")
    return common


def _check_counts(tp_ids: list[str], train_ids: list[str], math_test: dict[str, Any]) -> None:
    if len(tp_ids) != EXPECTED_TPS or len(train_ids) != EXPECTED_TRAIN:
        raise ValueError(
            f"Expected {EXPECTED_TPS} teaching problems and {EXPECTED_TRAIN} training problems, found "
            f"{len(tp_ids)} and {len(train_ids)}; the math input files do not match their checksums' release."
        )
    missing = [i for i in train_ids if i not in math_test]
    if missing:
        raise ValueError(f"{len(missing)} training ids (e.g. {missing[0]}) are missing from {MATH_FILE}.")


def _original_row(record: dict[str, Any], role: str) -> dict[str, Any]:
    """A TP (a MATH500 record: it has `answer` and `subject`) or a training problem (a MATH
    test record: the answer is its solution's last box, the subject is its `type`)."""
    problem_id = record["unique_id"]
    answer = record["answer"] if "answer" in record else _boxed_answer(record["solution"], f"{MATH_FILE}:{problem_id}")
    return {
        "problem_id": problem_id,
        "family_id": problem_id,
        "role": role,
        "question": record["problem"],
        "solution": record["solution"],
        "answer": answer,
        "level": _level(record["level"]),
        "subject": record.get("subject", record.get("type")),
    }


def _variant_row(family_id: str, snapshot: str, record: dict[str, Any], role: str) -> dict[str, Any]:
    problem_id = f"{snapshot}:{family_id}"
    return {
        "problem_id": problem_id,
        "family_id": family_id,
        "role": role,
        "question": record["problem"],
        "solution": record["solution"],
        "answer": _boxed_answer(record["solution"], problem_id),
        "level": _level(record["level"]),
        "subject": record["type"],
    }
