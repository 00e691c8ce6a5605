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


def embeddings_cache(cache_path: str | Path) -> Path:
    """Sentence embeddings (exams by similarity), beside the request cache."""
    return Path(cache_path).with_name("embeddings.sqlite")


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
CODE_SELECTIONS = M1 / "code_selections.parquet"  # code tasks: per TP, the S-scores of each method's TA


def adaptive_picks(teacher: str, student: str) -> Path:
    """M1's picks with the adaptive exam budget, one pair."""
    return M1 / "adaptive" / f"{pair_name(teacher, student)}.parquet"


# -- metrics, plots and figures -------------------------------------------------------------------


def metrics(name: str) -> Path:
    return METRICS / f"{name}.json"


def train_metrics(role: str) -> Path:
    return metrics(f"train_{role}")


def rationales_metrics(teacher: str, split: SplitName = "eval") -> Path:
    return metrics(f"rationales_{split}_{teacher}")


def exams_metrics(teacher: str, student: str, split: SplitName = "eval") -> Path:
    return metrics(f"exams_{split}_{pair_name(teacher, student)}")


def adaptive_metrics(teacher: str, student: str) -> Path:
    return metrics(f"adaptive_{pair_name(teacher, student)}")


SELECTION_METRICS = METRICS / "selection.json"
CODE_METRICS = METRICS / "select_code.json"


def figure(name: str) -> Path:
    return FIGURES / f"{name}.png"


M2_CURVES_FIGURE = figure("m2_training_curves")  # DPO's loss, reward margin, preference accuracy per step
M2_ACCURACY_FIGURE = figure("m2_accuracy")  # greedy held-out accuracy of each teacher


# -- M2 -------------------------------------------------------------------------------------------

M2 = DATA / "m2"
M2_PAIRS = M2 / "pairs.parquet"  # both pair sets, every training seed
M2_CURVES = M2 / "curves.parquet"  # DPO's per-step loss, reward margins and accuracies
M2_MODELS = M2 / "models"  # one tuned teacher per pair set and seed (`m2_model`): one DVC output, whatever the seeds
M2_EVALUATION = M2 / "evaluation.parquet"  # greedy answers of the original and tuned teachers
M2_LIVE = REPORTS / "m2" / "dvclive"  # DVCLive's logs, one folder per training run
M2_PAIRS_METRICS = METRICS / "m2_pairs.json"
M2_TRAIN_METRICS = METRICS / "m2_train.json"
M2_METRICS = METRICS / "m2.json"  # greedy accuracy: original, correctness_dpo, m2


def m2_run(pair_set: str, seed: int) -> str:
    """The name of one DPO run: its pair set and training seed."""
    return f"{pair_set}-seed{seed}"


def m2_model(pair_set: str, seed: int) -> Path:
    """A tuned teacher: an ordinary Hugging Face model folder."""
    return M2_MODELS / m2_run(pair_set, seed)


def m2_live(pair_set: str, seed: int) -> Path:
    return M2_LIVE / m2_run(pair_set, seed)
# -- M3 -------------------------------------------------------------------------------------------

M3 = DATA / "m3"
M3_TABLES = ("sets", "failures", "reflections", "scores")  # one Parquet file each, rows per iteration
M3_METRICS = METRICS / "m3.json"
M3_FIGURE = "m3_heldout"  # the held-out score per iteration, mean ± SE per student setting


def m3_table(name: str) -> Path:
    return M3 / f"{name}.parquet"
