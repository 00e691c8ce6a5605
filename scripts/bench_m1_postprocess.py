"""Time the whole M1 post-processing of the `math` task at the size of the paper's run.

The paper's M1 run on MATH500: 181 teaching problems (TPs) x 256 teaching rationales (TRs) per
TP, each TR examined on 3 exam problems (EPs) x 3 repetitions: 46,336 teaching answers (TAs)
and 417,024 exam answers. The synthetic answers come from `bench_math_grading.build_table`
(real gold answers from the raw data, equivalent rewritings, plausible and one-off wrong
answers, unparseable completions); a TR whose TA is the gold answer gets correct exam answers
with probability 0.75, otherwise 0.35, so LbT scores carry signal. The table is reshaped into
the pipeline's frames: rationales (tp_id, teacher, sample, answer, gold) and exams (tp_id,
teacher, sample, student, ep_id, rep, answer, gold), one student (the teacher itself).

Timed, each on its own and in total, in one process from cold caches (the pipeline runs these
in separate stages, so its math-verify workers start more than once):

1. grading TAs and exam answers with the batched grader (`MathTask.grade_many`);
2. LbT scores (`lbt_scores`);
3. grouping TAs per TP, in equivalence mode (scopes = tp_id) and in exact mode;
4. candidates (join of TRs and scores) and `select` with sc, m1_max, m1_sum, m1_avg, per grouping;
5. `resampled_accuracy` for sizes 1, 4, 16, 24, 64, 256 with 20 trials, per grouping.

    python scripts/bench_m1_postprocess.py                                # the paper's size
    python scripts/bench_m1_postprocess.py --tps 20 --trs 32 --trials 5   # a quick run

Prints the figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_math_grading import REPO_ROOT, Table, build_table, distinct_pairs, timed  # noqa: E402

from lbt.methods.m1.analysis import resampled_accuracy  # noqa: E402
from lbt.methods.m1.config import Method  # noqa: E402
from lbt.methods.m1.select import exact_numerators, select  # noqa: E402
from lbt.tasks.base import GroupingMode  # noqa: E402
from lbt.tasks.math import MathParams, MathTask  # noqa: E402
from lbt.tasks.math.config import GradingParams  # noqa: E402
from lbt.teaching.scores import lbt_scores  # noqa: E402

TEACHER = "synthetic-teacher"
REPEATS = 3  # exam repetitions per EP in build_table
METHODS = [Method.SC, Method.M1_MAX, Method.M1_SUM, Method.M1_AVG]
SIZES = [1, 4, 16, 24, 64, 256]
KEYS = ["student", "tp_id"]
MODES: tuple[GroupingMode, ...] = ("equivalence", "exact")


def to_frames(table: Table, n_trs: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rationale and exam frames of a `build_table` table (TR-major, then EP, then rep)."""
    n_tas, n_exams = len(table.ta_answers), len(table.exam_answers)
    per_tr = n_exams // n_tas
    if per_tr * n_tas != n_exams or per_tr % REPEATS:
        raise ValueError(f"{n_exams} exam answers do not split into {n_tas} TRs x EPs x {REPEATS} repeats.")
    rationales = pl.DataFrame(
        {"tp_id": table.ta_scopes, "answer": table.ta_answers, "gold": table.ta_golds},
        schema={"tp_id": pl.String, "answer": pl.String, "gold": pl.String},
    ).select("tp_id", teacher=pl.lit(TEACHER), sample=pl.int_range(pl.len(), dtype=pl.Int64) % n_trs,
             answer="answer", gold="gold")
    tr_index = pl.int_range(0, n_exams, dtype=pl.Int64) // per_tr
    exams = pl.concat(
        [
            rationales.select(pl.col("tp_id", "teacher", "sample").gather(tr_index)),
            pl.DataFrame(
                {"ep_id": table.exam_scopes, "answer": table.exam_answers, "gold": table.exam_golds},
                schema={"ep_id": pl.String, "answer": pl.String, "gold": pl.String},
            ),
        ],
        how="horizontal",
    ).select("tp_id", "teacher", "sample", student=pl.lit(TEACHER), ep_id="ep_id",
             rep=pl.int_range(pl.len(), dtype=pl.Int64) % REPEATS, answer="answer", gold="gold",
             n_tokens=pl.lit(0, dtype=pl.Int64))
    _check_layout(exams)
    return rationales, exams


def _check_layout(exams: pl.DataFrame) -> None:
    """Each exam row's EP is a variant of its TR's TP (EP ids end with the TP's MATH id)."""
    misplaced = exams.filter(~pl.col("ep_id").str.ends_with(pl.col("tp_id"))).height
    if misplaced:
        raise ValueError(f"{misplaced} exam rows sit under the wrong TP; build_table's row order changed.")


def grade(task: MathTask, frame: pl.DataFrame) -> pl.DataFrame:
    grades = task.grade_many(frame["answer"].to_list(), frame["gold"].to_list())
    return frame.with_columns(grade=pl.Series(grades, dtype=pl.Float64)).with_columns(correct=pl.col("grade") >= 1)


def group_tas(task: MathTask, rationales: pl.DataFrame, mode: GroupingMode) -> pl.Series:
    scopes = rationales["tp_id"].to_list() if mode == "equivalence" else None
    groups = task.answer_groups(rationales["answer"].to_list(), scopes, mode)
    return pl.Series("group", groups, dtype=pl.String)


def candidates(rationales: pl.DataFrame, groups: pl.Series, scores: pl.DataFrame) -> pl.DataFrame:
    """Per (student, TP, sample): answer class, correctness and LbT score, as the pipeline builds them."""
    cands = rationales.with_columns(groups).join(scores, on=["tp_id", "teacher", "sample"]).select(
        "student", "tp_id", "sample", "answer", "group", "correct", "score", "grade_sum", "n_exams", "exam_tokens",
        tr_tokens=pl.lit(0), text_key="sample")  # synthetic TRs: no tokens, all distinct
    return exact_numerators(cands, KEYS)


def select_all(rationales: pl.DataFrame, groups: pl.Series, scores: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    cands = candidates(rationales, groups, scores)
    return cands, select(cands, KEYS, METHODS)


def print_timings(figures: dict[str, float]) -> None:
    width = max(len(label) for label in figures) + 2
    for label, seconds in figures.items():
        print(f"{label:<{width}}{seconds:8.2f} s")
    print(f"{'= total':<{width}}{sum(figures.values()):8.2f} s")
    one_mode = sum(s for label, s in figures.items() if "exact" not in label)
    print(f"{'= total, equivalence grouping only':<{width}}{one_mode:8.2f} s")


def print_sizes(rationales: pl.DataFrame, exams: pl.DataFrame, scores: pl.DataFrame) -> None:
    golds, answers = rationales["gold"].to_list(), rationales["answer"].to_list()
    print(f"TAs: {rationales.height:,} ({distinct_pairs(golds, answers):,} distinct (gold, answer) pairs)")
    golds, answers = exams["gold"].to_list(), exams["answer"].to_list()
    print(f"exam answers: {exams.height:,} ({distinct_pairs(golds, answers):,} distinct pairs)")
    print(f"LbT scores: {scores.height:,} rows, mean {scores['score'].mean():.3f}, std {scores['score'].std():.3f}")
    print(f"TA accuracy {rationales['correct'].mean():.3f}, exam accuracy {exams['correct'].mean():.3f}")


def print_results(cands: dict[str, pl.DataFrame], picks: dict[str, pl.DataFrame],
                  curves: dict[str, pl.DataFrame]) -> None:
    """Per grouping: answer classes, selection accuracy per method, and the resampling curve."""
    for mode in MODES:
        classes = cands[mode].filter(pl.col("group").is_not_null()).select("tp_id", "group").n_unique()
        accuracy = dict(picks[mode].group_by("method").agg(pl.col("correct").mean()).iter_rows())
        print(f"{mode}: {classes:,} answer classes; accuracy "
              + ", ".join(f"{m} {accuracy[str(m)]:.3f}" for m in METHODS))
        means = {(n, m): v for m, n, v in curves[mode].select("method", "n", "mean").iter_rows()}
        print("    n " + "".join(f"{m:>8}" for m in METHODS))
        for n in sorted({n for n, _ in means}):
            print(f"{n:5d} " + "".join(f"{means[n, str(m)]:8.3f}" for m in METHODS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw-dir", type=Path, default=REPO_ROOT.parent / "shared" / "datasets")
    parser.add_argument("--tps", type=int, default=181)
    parser.add_argument("--trs", type=int, default=256, help="TRs per TP")
    parser.add_argument("--trials", type=int, default=20, help="random subsets per size in resampling")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="math-verify worker processes")
    args = parser.parse_args()

    start = time.perf_counter()
    rationales, exams = to_frames(build_table(args.raw_dir, args.tps, args.trs, args.seed), args.trs)
    print(f"built the synthetic tables in {time.perf_counter() - start:.1f} s")

    config = MathParams(raw_dir=str(args.raw_dir), grading=GradingParams(workers=args.workers))
    task, t = MathTask(config), dict[str, float]()
    rationales = timed("1 grade TAs (starts the workers)", lambda: grade(task, rationales), t)
    exams = timed("1 grade exam answers", lambda: grade(task, exams), t)
    scores = timed("2 LbT scores", lambda: lbt_scores(exams), t)
    groups = {m: timed(f"3 group TAs per TP, {m}", partial(group_tas, task, rationales, m), t) for m in MODES}
    cands: dict[str, pl.DataFrame] = {}
    picks: dict[str, pl.DataFrame] = {}
    curves: dict[str, pl.DataFrame] = {}
    for m in MODES:
        cands[m], picks[m] = timed(f"4 candidates + select, {m}", partial(select_all, rationales, groups[m], scores), t)
    for m in MODES:
        resample = partial(resampled_accuracy, cands[m], KEYS, METHODS, SIZES, args.trials, args.seed)
        curves[m] = timed(f"5 resampled accuracy, {m}", resample, t)

    print_sizes(rationales, exams, scores)
    print_timings(t)
    print_results(cands, picks, curves)
    print(f"math-verify: {task.grader.stats()}")
    task.close()


if __name__ == "__main__":
    main()
