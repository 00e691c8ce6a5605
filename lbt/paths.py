"""Where every stage reads and writes, relative to the project root (one place to look)."""

from pathlib import Path

DATA = Path("data")
PROBLEMS = DATA / "problems.parquet"
RATIONALES = DATA / "rationales.parquet"
GREEDY = DATA / "greedy.parquet"
EXAMS = DATA / "exams.parquet"
LBT_SCORES = DATA / "lbt_scores.parquet"
SELECTIONS = DATA / "selections.parquet"
RESAMPLING = DATA / "resampling.parquet"
TOY_MODELS = DATA / "models"  # the toy teacher and student, as Hugging Face folders

REPORTS = Path("reports")
METRICS = REPORTS / "metrics"
PLOTS = REPORTS / "plots"
FIGURES = REPORTS / "figures"
