"""Where every stage reads and writes, relative to the project root (one place to look)."""

from pathlib import Path

DATA = Path("data")
PROBLEMS = DATA / "problems.parquet"
TOY_MODELS = DATA / "models"  # the toy teacher and student, as Hugging Face folders
LBT_SCORES = DATA / "lbt_scores.parquet"
SELECTIONS = DATA / "selections.parquet"
RESAMPLING = DATA / "resampling.parquet"
BREAKDOWN = DATA / "breakdown.parquet"

REPORTS = Path("reports")
METRICS = REPORTS / "metrics"
PLOTS = REPORTS / "plots"
FIGURES = REPORTS / "figures"


def rationales(teacher: str) -> Path:
    return DATA / "rationales" / f"{teacher}.parquet"


def greedy(teacher: str) -> Path:
    return DATA / "greedy" / f"{teacher}.parquet"


def exams(teacher: str, student: str) -> Path:
    return DATA / "exams" / f"{teacher}__{student}.parquet"
