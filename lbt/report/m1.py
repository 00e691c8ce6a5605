"""M1's section of the report: the Table-2-style selection table, accuracy against N, the
breakdowns, how LbT scores separate correct from wrong TRs, and example TRs."""

from __future__ import annotations

import polars as pl
from matplotlib.figure import Figure

from lbt import paths
from lbt.config import Params
from lbt.methods.m1.config import Method
from lbt.methods.m1.plots import with_pair
from lbt.methods.m1.inputs import scored_rationales
from lbt.tables import read_json


def _accuracy_frame(nested: dict) -> pl.DataFrame:
    """Rows: methods; columns: one per (teacher → student) pair; cells: accuracy in %."""
    columns = {f"{t} → {s}": by_method for t, by_student in nested.items() for s, by_method in by_student.items()}
    methods = [m for m in Method if any(m in v for v in columns.values())]
    return pl.DataFrame(
        {"method": [m.label for m in methods]}
        | {pair: [100 * v[m] if m in v else None for m in methods] for pair, v in columns.items()}
    )


def selection_table() -> pl.DataFrame:
    return _accuracy_frame(read_json(paths.SELECTION_METRICS).get("accuracy", {}))


def grouping_table() -> pl.DataFrame | None:
    """The same table under each answer grouping (math: equivalence vs exact match), or None."""
    by_grouping = read_json(paths.SELECTION_METRICS).get("accuracy_by_grouping")
    if not by_grouping:
        return None
    frames = [_accuracy_frame(nested).with_columns(grouping=pl.lit(mode)) for mode, nested in by_grouping.items()]
    return pl.concat(frames, how="diagonal").select("grouping", pl.exclude("grouping"))


def _labels(column: pl.Expr) -> pl.Expr:
    return column.replace({str(m): m.label for m in Method})


def breakdown_tables() -> dict[str, pl.DataFrame]:
    """Per descriptive column: accuracy (%) per method (columns) for each value (rows)."""
    table = pl.read_parquet(paths.BREAKDOWN)
    if table.is_empty():
        return {}
    out = {}
    for (column,), part in table.group_by(["column"], maintain_order=True):
        shown = with_pair(part).with_columns(accuracy=100 * pl.col("accuracy"), method=_labels(pl.col("method")))
        wide = shown.pivot(on="method", index=["pair", "value", "n"], values="accuracy").sort("pair", "value")
        out[column] = wide.select("pair", "value", "n", *(m.label for m in Method if m.label in wide.columns))
    return out


def resampling_table() -> pl.DataFrame:
    curve = pl.read_parquet(paths.RESAMPLING)
    shown = curve.with_columns(
        cell=pl.format("{} ± {}", (100 * pl.col("mean")).round(1), (100 * pl.col("std")).round(1)),
        method=_labels(pl.col("method")),
    )
    return shown.pivot(on="n", index=["teacher", "student", "method"], values="cell", sort_columns=False)


def _per_method_rows(block: str) -> pl.DataFrame:
    """A {teacher: {student: {method: {column: value}}}} block of the metrics as rows, in method order."""
    nested = read_json(paths.SELECTION_METRICS).get(block, {})
    order = {str(m): i for i, m in enumerate(Method)}
    rows = [{"pair": f"{t} → {s}", "method": m, **values} for t, by_student in nested.items()
            for s, by_method in by_student.items() for m, values in sorted(by_method.items(), key=lambda i: order[i[0]])]
    return pl.DataFrame(rows).with_columns(method=_labels(pl.col("method"))) if rows else pl.DataFrame()


def compute_table() -> pl.DataFrame:
    """Generations and generated tokens each method used with all TRs, per pair."""
    return _per_method_rows("compute")


def m1_reaches_sc_table() -> pl.DataFrame:
    """Per M1 method: the fewest TRs per TP at which it matches SC with the most, and the tokens of each."""
    table = _per_method_rows("m1_reaches_sc")
    if table.is_empty():
        return table
    return table.select(
        "pair", "method", pl.col("n").alias("M1 n"),
        pl.format("{} ± {}", (100 * pl.col("mean")).round(1), (100 * pl.col("std")).round(1)).alias("M1 accuracy"),
        pl.col("tokens").alias("M1 tokens"), pl.col("sc_n").alias("SC N"),
        pl.format("{} ± {}", (100 * pl.col("sc_mean")).round(1), (100 * pl.col("sc_std")).round(1)).alias("SC accuracy"),
        pl.col("sc_tokens").alias("SC tokens"), (pl.col("tokens") / pl.col("sc_tokens")).alias("token ratio"),
    )


def score_separation(params: Params) -> tuple[Figure, pl.DataFrame]:
    """Histogram of LbT scores for TRs with a correct vs a wrong TA, and the mean of each."""
    tr = with_pair(scored_rationales(params))
    table = (
        tr.group_by("pair", "correct").agg(mean_score=pl.col("score").mean(), n_rationales=pl.len())
        .sort("pair", "correct")
    )
    pairs = tr["pair"].unique().sort().to_list()
    fig = Figure(figsize=(4.5 * len(pairs), 3))
    for ax, pair in zip(fig.subplots(1, len(pairs), squeeze=False)[0], pairs):
        part = tr.filter(pl.col("pair") == pair)
        for correct, color in ((True, "tab:green"), (False, "tab:red")):
            values = part.filter(pl.col("correct") == correct)["score"].to_list()
            ax.hist(values, bins=11, range=(0, 1), alpha=0.6, color=color,
                    label=f"TA {'correct' if correct else 'wrong'} ({len(values)})")
        ax.set_xlabel(f"LbT score ({pair})")
        ax.set_ylabel("TRs")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, table


def example_rationales(params: Params, n_problems: int = 3) -> pl.DataFrame:
    """Distinct TRs of a few TPs where M1-MAX and SC disagree (else any TPs), best score first,
    for the first (teacher, student) pair."""
    teacher, student = next(iter(params.teachers)), next(iter(params.students))
    sel = pl.read_parquet(paths.SELECTIONS).filter((pl.col("teacher") == teacher) & (pl.col("student") == student))
    wide = sel.pivot(on="method", index="tp_id", values="correct")
    max_, sc = str(Method.M1_MAX), str(Method.SC)
    disagree = wide.filter(pl.col(max_) != pl.col(sc)) if {max_, sc} <= set(wide.columns) else wide
    tps = (disagree if disagree.height else wide)["tp_id"].head(n_problems).to_list()
    tr = scored_rationales(params).filter((pl.col("teacher") == teacher) & (pl.col("student") == student))
    return (
        tr.filter(pl.col("tp_id").is_in(tps))
        .group_by("tp_id", "text", "answer", "correct")
        .agg(lbt_score=pl.col("score").first(), copies=pl.len())
        .sort(["tp_id", "lbt_score"], descending=[False, True])
    )
