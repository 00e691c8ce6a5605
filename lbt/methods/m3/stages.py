"""The M3 stage: every student setting × run side by side, tables, metrics and the figure.

All (setting, run) loops run in lockstep (lbt/methods/m3/driver.py): each round is one batched
call per model through the request cache, so a killed stage resumes where it stopped and a
rerun generates nothing."""

from __future__ import annotations

import math
import random
from contextlib import ExitStack

import polars as pl

from lbt import paths
from lbt.config import Params, ParamsError
from lbt.engines.base import derive_seed
from lbt.engines.registry import make_engine
from lbt.methods.m3.config import model_configs
from lbt.methods.m3.driver import drive
from lbt.methods.m3.loop import LoopContext, Record, refine
from lbt.methods.m3.operators import OperatorContext, make_operator
from lbt.methods.m3.plots import write_m3_plot
from lbt.methods.m3.scoring import answer_requests, grade, score
from lbt.methods.m3.sets import ExemplarSet
from lbt.tables import write_json, write_table
from lbt.tasks.base import SPLITS, Split, Task
from lbt.tasks.make import make_task


def check_task(params: Params, task: Task) -> None:
    p = params.m3
    if p.metric == "f1" and task.positive_answer is None:
        raise ParamsError(f"params.yaml: `m3.metric`: f1 needs a binary task (task {params.task} is not); use accuracy.")
    if p.operator == "toy" and params.task != "toy":
        raise ParamsError("params.yaml: `m3.operator`: the toy operator works on the toy task only; use llm.")
    if p.operator == "llm" and params.task != "classify":
        raise ParamsError(f"params.yaml: `m3.operator`: the llm operator writes labeled exemplars for the classify "
                          f"task (task is {params.task}); use toy for the toy task.")
    if task.positive_answer is not None and p.exemplars % 2:
        raise ParamsError("params.yaml: `m3.exemplars` must be even for a binary task (sets are balanced).")


def split_items(problems: pl.DataFrame, split: Split) -> pl.DataFrame:
    return problems.filter(pl.col("role").is_in([split.tp_role, split.ep_role]))


def m3_stage(params: Params) -> dict:
    p = params.m3
    models = model_configs(params)
    teacher = next(iter(models))
    problems = pl.read_parquet(paths.PROBLEMS)
    pool, heldout = split_items(problems, SPLITS["train"]), split_items(problems, SPLITS["eval"])
    if p.heldout is not None and p.heldout < heldout.height:
        rng = random.Random(derive_seed(params.seed, "m3-heldout"))
        heldout = heldout[sorted(rng.sample(range(heldout.height), p.heldout))]
    with make_task(params) as task, ExitStack() as stack:
        check_task(params, task)
        engines = {name: stack.enter_context(make_engine(model, params.cache_path)) for name, model in models.items()}
        operator = make_operator(OperatorContext(task, teacher, models[teacher], p, pool))
        ctx = LoopContext(task, p, params.seed, teacher, models, pool, heldout, operator)
        loops = [refine(ctx, setting, names, run) for setting, names in p.settings.items() for run in range(p.runs)]
        records: list[Record] = drive(loops, engines)
        zero_shot = zero_shot_score(ctx, engines[teacher])
        generations = {name: engine.stats.as_dict() for name, engine in engines.items()}
    tables = write_tables(records)
    summary = heldout_summary(tables["scores"])
    metrics = m3_metrics(params, summary, tables, records, generations, heldout.height)
    metrics["heldout_zero_shot"] = round(zero_shot, 4)
    metrics["vs_self"] = paired_vs_self(params, tables["scores"], teacher)
    write_json(paths.M3_METRICS, metrics)
    write_m3_plot(summary, p.metric)
    return metrics


def zero_shot_score(ctx: LoopContext, engine) -> float:
    """The teacher's held-out score with no exemplars: what the sets are compared against."""
    empty = ExemplarSet(())
    requests = answer_requests(ctx.task, ctx.models[ctx.teacher], empty, ctx.heldout, ctx.params.answer, ctx.seed)
    graded = grade(ctx.task, ctx.heldout, engine.generate(requests, desc="m3 zero-shot"))
    return score(ctx.params.metric, graded, ctx.task.positive_answer)


def paired_vs_self(params: Params, scores: pl.DataFrame, teacher: str) -> dict:
    """Per setting: its final held-out score minus that of the teacher-as-its-own-student setting in
    the same run (the runs are paired), mean ± SE over runs; {} without such a setting."""
    own = [s for s, names in params.m3.settings.items() if names == [teacher]]
    if not own:
        return {}
    final = scores.filter((pl.col("split") == "heldout") & (pl.col("iteration") == params.m3.iterations))
    base = final.filter(pl.col("setting") == own[0]).select("run", base=pl.col("score"))
    diffs = final.join(base, on="run").with_columns(diff=pl.col("score") - pl.col("base"))
    out = {}
    for (setting,), part in diffs.group_by(["setting"], maintain_order=True):
        if setting != own[0]:
            se = part["diff"].std() / math.sqrt(part.height) if part.height > 1 else 0.0
            out[setting] = {"mean": round(part["diff"].mean(), 4), "se": round(se, 4), "vs": own[0]}
    return out


# Columns that are null in every row when no proposal parsed (a weak model): typed all the same,
# so that the report's joins on them still work
NULLABLE = {"child_id": pl.String, "parent_id": pl.String, "reflection": pl.Int64}


def write_tables(records: list[Record]) -> dict[str, pl.DataFrame]:
    tables = {}
    for name in paths.M3_TABLES:
        rows = [row for rec in records for row in getattr(rec, name)]
        types = {column: dtype for column, dtype in NULLABLE.items() if rows and column in rows[0]}
        tables[name] = pl.DataFrame(rows, infer_schema_length=None, schema_overrides=types) if rows else pl.DataFrame()
        write_table(tables[name], paths.m3_table(name))
    return tables


def heldout_summary(scores: pl.DataFrame) -> pl.DataFrame:
    """Per (setting, iteration): the teacher's held-out score with the best set, mean and standard
    error over runs."""
    return (
        scores.filter(pl.col("split") == "heldout")
        .group_by("setting", "iteration", maintain_order=True)
        .agg(mean=pl.col("score").mean(), se=(pl.col("score").std() / pl.len().sqrt()).fill_null(0.0),
             runs=pl.len())
        .sort("setting", "iteration")
    )


def calls_per_iteration(records: list[Record]) -> dict[str, float]:
    """Samples asked for per iteration t ≥ 1 of one (setting, run), by phase, averaged over loops."""
    totals: dict[str, list[int]] = {}
    for rec in records:
        iterations = {t for t, _ in rec.calls if t > 0}
        for phase in ("students", "operator", "selection", "heldout"):
            per = [rec.calls.get((t, phase), 0) for t in iterations]
            totals.setdefault(phase, []).extend(per)
    out = {phase: round(sum(v) / len(v), 1) for phase, v in totals.items() if v}
    out["total"] = round(sum(out.values()), 1)
    return out


def m3_metrics(params: Params, summary: pl.DataFrame, tables: dict[str, pl.DataFrame], records: list[Record],
               generations: dict, n_heldout: int) -> dict:
    p = params.m3
    last = p.iterations
    heldout = {s: {str(t): {"mean": round(m, 4), "se": round(se, 4)} for _, t, m, se, _ in part.iter_rows()}
               for (s,), part in summary.group_by(["setting"], maintain_order=True)}
    status = tables["reflections"]["status"].value_counts() if tables["reflections"].height else pl.DataFrame()
    return {
        "metric": p.metric, "runs": p.runs, "iterations": last, "heldout_items": n_heldout,
        "settings": [{"name": s, "models": names} for s, names in p.settings.items()],
        "heldout": heldout,
        "gain": {s: round(v[str(last)]["mean"] - v["0"]["mean"], 4) for s, v in heldout.items()},
        "calls_per_iteration": calls_per_iteration(records),
        "proposals": {str(k): int(n) for k, n in status.iter_rows()} if status.height else {},
        "generations": generations,
    }
