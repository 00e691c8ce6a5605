"""M1's analyses: accuracy, accuracy against the number of TRs (random subsets), accuracy by
the problems' descriptive columns, the compute each method uses, and the metrics file's blocks.

Compute is counted in generations and generated tokens: the teacher's (the TRs a method sees)
and the students' (the exams of those TRs, for the methods that use LbT scores). Identical TRs
of a TP share their exam answers (the exam stage generates them once), so their exams count once."""

from __future__ import annotations

import polars as pl

from lbt.methods.m1.config import Method, Ties
from lbt.methods.m1.select import select


def accuracy(selections: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    return (
        selections.group_by(by)
        .agg(accuracy=pl.col("correct").cast(pl.Float64).mean(), n=pl.len(),
             no_answer=pl.col("group").is_null().cast(pl.Float64).mean())
        .sort(by)
    )


def resampled_accuracy(candidates: pl.DataFrame, keys: list[str], methods: list[Method],
                       sizes: list[int], trials: int, seed: int, ties: Ties = "first_seen") -> pl.DataFrame:
    """Accuracy and compute when only `n` of the sampled TRs per TP are available: for each n,
    `trials` random subsets (the same subsets for every method), then mean and std of accuracy
    and mean compute (`COST_COLUMNS`) over trials."""
    n_max = candidates.group_by(keys).agg(pl.len()).get_column("len").min()
    pair = [k for k in keys if k != "tp_id"]
    rows = []
    for n in sorted({min(s, n_max) for s in sizes}):
        subsets = random_subsets(candidates, keys, n, trials, seed)
        picked = select(subsets, [*keys, "trial"], methods, ties)
        costs = method_costs(cost(subsets, [*pair, "trial"]), methods)
        rows.append(accuracy(picked, [*pair, "method", "trial"]).join(costs, on=[*pair, "trial", "method"])
                    .with_columns(n=pl.lit(n)))
    group = [*pair, "method", "n"]
    return (
        pl.concat(rows).sort([*group, "trial"]).group_by(group, maintain_order=True)
        .agg(*(pl.col(c).mean() for c in COST_COLUMNS), mean=pl.col("accuracy").mean(),
             std=pl.col("accuracy").std(ddof=0), trials=pl.len())
        .sort(group)
    )


def random_subsets(candidates: pl.DataFrame, keys: list[str], n: int, trials: int, seed: int) -> pl.DataFrame:
    """`trials` copies of the candidates, each keeping `n` random TRs per (keys...) in a random order:
    `sample` becomes the TR's place in that order, as in a fresh run of `n` samples (a run's samples
    are exchangeable), so the tie rule's "seen first" is a random TR of the subset, not the one of
    lowest sample number in this run, which would weight the same few TRs in every trial."""
    trial_ids = pl.DataFrame({"trial": list(range(trials))}, schema={"trial": pl.Int64})
    rank_key = pl.struct("trial", "tp_id", "sample").hash(seed=seed)
    return (
        candidates.join(trial_ids, how="cross")
        .with_columns(_rank=rank_key.rank("ordinal").over([*keys, "trial"]))
        .filter(pl.col("_rank") <= n)
        .with_columns(sample=pl.col("_rank").cast(candidates.schema["sample"]))
        .drop("_rank")
    )


COST_COLUMNS = ("teacher_generations", "teacher_tokens", "student_generations", "student_tokens", "tokens")


def cost(candidates: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per (keys...): the candidates' TRs (teacher) and their exams (students), an identical TR's
    exams counted once per TP. Candidates carry `tr_tokens`, `text_key`, `n_exams`, `exam_tokens`."""
    first_copy = pl.struct(*keys, "tp_id", "text_key").is_first_distinct()
    return candidates.with_columns(_first=first_copy).group_by(keys).agg(
        teacher_generations=pl.len(), teacher_tokens=pl.col("tr_tokens").sum(),
        student_generations=pl.col("n_exams").filter("_first").sum(),
        student_tokens=pl.col("exam_tokens").filter("_first").sum(),
    )


def method_costs(costs: pl.DataFrame, methods: list[Method]) -> pl.DataFrame:
    """`costs` per method: the students' part only for methods that use LbT scores; `tokens` in all."""
    uses_scores = pl.col("method").is_in([str(m) for m in methods if Method(m).uses_scores])
    return (
        costs.join(pl.DataFrame({"method": [str(m) for m in methods]}), how="cross")
        .with_columns(pl.when(uses_scores).then(pl.col(c)).otherwise(0).alias(c)
                      for c in ("student_generations", "student_tokens"))
        .with_columns(tokens=pl.col("teacher_tokens") + pl.col("student_tokens"))
    )


def m1_reaching_sc(curve: pl.DataFrame) -> pl.DataFrame:
    """Per pair and M1 method: the smallest n at which M1's mean accuracy reaches SC's at the
    largest N (the paper's "M1 with 24 TRs against SC with 256"), or null n when it never does."""
    pair = ["teacher", "student"]
    sc = (
        curve.filter((pl.col("method") == str(Method.SC)) & (pl.col("n") == pl.col("n").max().over(pair)))
        .select(*pair, sc_n="n", sc_mean="mean", sc_std="std", sc_tokens="tokens")
    )
    m1 = curve.filter(pl.col("method").is_in([str(m) for m in Method if m.uses_scores])).join(sc, on=pair)
    reached = (
        m1.filter(pl.col("mean") >= pl.col("sc_mean") - 1e-9).sort("n").group_by(*pair, "method").first()
        .select(*pair, "method", "n", "mean", "std", "tokens")
    )
    return (
        m1.select(*pair, "method", "sc_n", "sc_mean", "sc_std", "sc_tokens").unique()
        .join(reached, on=[*pair, "method"], how="left").sort(*pair, "method")
    )


def breakdown(picked: pl.DataFrame, problems: pl.DataFrame, columns: tuple[str, ...], tp_role: str) -> pl.DataFrame:
    """Accuracy per method within each value of the problems' descriptive `columns`."""
    info = problems.filter(pl.col("role") == tp_role).select(pl.col("problem_id").alias("tp_id"), *columns)
    joined = picked.join(info, on="tp_id")
    parts = [
        accuracy(joined.with_columns(value=pl.col(c).cast(pl.String)), ["teacher", "student", "method", "value"])
        .with_columns(column=pl.lit(c))
        for c in columns
    ]
    return pl.concat(parts) if parts else pl.DataFrame()


def nested(table: pl.DataFrame, column: str | list[str]) -> dict:
    """{teacher: {student: {method: value}}}: the value of `column`, or {c: value} of several."""
    out: dict = {}
    for row in table.iter_rows(named=True):
        value = _rounded(row[column]) if isinstance(column, str) else {c: _rounded(row[c]) for c in column}
        out.setdefault(row["teacher"], {}).setdefault(row["student"], {})[row["method"]] = value
    return out


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def selection_metrics(acc: pl.DataFrame, cands: pl.DataFrame, keys: list[str]) -> dict:
    """Accuracy and no-answer rate per method, the any-TR-correct oracle, and M1's gain over SC."""
    metrics = {"accuracy": nested(acc, "accuracy"), "no_answer_rate": nested(acc, "no_answer")}
    oracle = cands.group_by(keys).agg(pl.col("correct").any()).group_by("teacher", "student").agg(
        pl.col("correct").mean())
    metrics["oracle_any_correct"] = {}
    for teacher, student, value in oracle.iter_rows():
        metrics["oracle_any_correct"].setdefault(teacher, {})[student] = round(value, 4)
    gains: dict = {}
    for teacher, by_student in metrics["accuracy"].items():
        for student, by_method in by_student.items():
            for m in (m for m in Method if m.uses_scores):
                if m in by_method and Method.SC in by_method:
                    gains.setdefault(teacher, {}).setdefault(student, {})[str(m)] = round(
                        by_method[m] - by_method[Method.SC], 4)
    metrics["gain_over_sc"] = gains
    return metrics
