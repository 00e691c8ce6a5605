"""Every file the pipeline reads or writes, relative to the project root: one place for each name."""

from __future__ import annotations

from pathlib import Path

SplitName = str  # "eval" or "train" (lbt.tasks.base.SPLITS)

PARAMS = Path("params.yaml")
DVC_YAML = Path("dvc.yaml")
NOTEBOOKS = Path("notebooks")

DATA = Path("data")
PROBLEMS = DATA / "problems.parquet"
TOY_MODELS = DATA / "models"  # the toy teacher and student, as Hugging Face folders

REPORTS = Path("reports")
EXECUTED = REPORTS / "notebooks"  # executed copies of the stage notebooks
METRICS = REPORTS / "metrics"
FIGURES = REPORTS / "figures"  # PNG figures
REPORT_HTML = REPORTS / "report.html"
PARAMS_CHECK = REPORTS / "params_check.json"


def toy_model(role: str) -> Path:
    return TOY_MODELS / role


# -- teaching: rationales, exams and LbT scores of one split -------------------------------------


def teaching(split: SplitName) -> Path:
    return DATA / "teaching" / split


def rationales(teacher: str, split: SplitName = "eval") -> Path:
    return teaching(split) / "rationales" / f"{teacher}.parquet"


def greedy(teacher: str, split: SplitName = "eval") -> Path:
    return teaching(split) / "greedy" / f"{teacher}.parquet"


def exams(teacher: str, student: str, split: SplitName = "eval") -> Path:
    return teaching(split) / "exams" / f"{pair_name(teacher, student)}.parquet"


def lbt_scores(split: SplitName = "eval") -> Path:
    return teaching(split) / "lbt_scores.parquet"


def pair_name(teacher: str, student: str) -> str:
    """`teacher__student`: model names never contain `__`, so the pair reads back unambiguously."""
    return f"{teacher}__{student}"


# -- M1 -------------------------------------------------------------------------------------------

M1 = DATA / "m1"
SELECTIONS = M1 / "selections.parquet"
RESAMPLING = M1 / "resampling.parquet"
BREAKDOWN = M1 / "breakdown.parquet"


# -- metrics, plots and figures -------------------------------------------------------------------


def metrics(name: str) -> Path:
    return METRICS / f"{name}.json"


def train_metrics(role: str) -> Path:
    return metrics(f"train_{role}")


def rationales_metrics(teacher: str, split: SplitName = "eval") -> Path:
    return metrics(f"rationales_{split}_{teacher}")


def exams_metrics(teacher: str, student: str, split: SplitName = "eval") -> Path:
    return metrics(f"exams_{split}_{pair_name(teacher, student)}")


SELECTION_METRICS = METRICS / "selection.json"


def figure(name: str) -> Path:
    return FIGURES / f"{name}.png"


# -- M3 -------------------------------------------------------------------------------------------

M3 = DATA / "m3"
M3_TABLES = ("sets", "failures", "reflections", "scores")  # one Parquet file each, rows per iteration
M3_METRICS = METRICS / "m3.json"
M3_FIGURE = "m3_heldout"  # the held-out score per iteration, mean ± SE per student setting


def m3_table(name: str) -> Path:
    return M3 / f"{name}.parquet"
