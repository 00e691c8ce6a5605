"""M3's section of the report: the Table-5-style table (teacher's held-out score per student
setting and iteration, mean ± SE over runs), proposal outcomes, and a few reflections beside
the failures that prompted them."""

from __future__ import annotations

import polars as pl

from lbt import paths
from lbt.tables import read_json


def heldout_table() -> pl.DataFrame:
    """Rows: student settings; columns: iterations 0 … T; cells: mean ± SE in %."""
    m = read_json(paths.M3_METRICS)
    rows = []
    order = [s["name"] for s in m.get("settings", [])]  # as in params.yaml
    for setting, by_iteration in sorted(m.get("heldout", {}).items(), key=lambda i: order.index(i[0])):
        cells = {f"iter {t}": f"{100 * v['mean']:.1f} ± {100 * v['se']:.1f}"
                 for t, v in sorted(by_iteration.items(), key=lambda i: int(i[0]))}
        members = next((" + ".join(s["models"]) for s in m["settings"] if s["name"] == setting), setting)
        rows.append({"setting": setting, "students": members, **cells, "gain (points)": round(100 * m["gain"][setting], 1)})
    return pl.DataFrame(rows)


def vs_self_table() -> pl.DataFrame:
    """Each setting's final held-out score minus the teacher-as-its-own-student's, same runs (paired)."""
    rows = [{"students": setting, "vs": v["vs"], "difference (points)": f"{100 * v['mean']:+.1f} ± {100 * v['se']:.1f}"}
            for setting, v in read_json(paths.M3_METRICS).get("vs_self", {}).items()]
    return pl.DataFrame(rows)


def proposal_table() -> pl.DataFrame:
    """How many proposals became candidate sets, and why the others were dropped."""
    counts = read_json(paths.M3_METRICS).get("proposals", {})
    return pl.DataFrame({"status": list(counts), "proposals": list(counts.values())})


def reflection_examples(n: int = 3) -> pl.DataFrame:
    """The first `n` reflections of the first run that led to a set which survived, each beside
    the failures it looked at (student, question, gold, the student's answer)."""
    reflections = pl.read_parquet(paths.m3_table("reflections"))
    if reflections.is_empty():
        return reflections
    sets = pl.read_parquet(paths.m3_table("sets")).filter(pl.col("kept")).select(
        "setting", "run", "iteration", child_id="set_id")
    chosen = reflections.join(sets, on=["setting", "run", "iteration", "child_id"], how="semi")
    chosen = (chosen if chosen.height else reflections).filter(pl.col("run") == pl.col("run").min())
    chosen = chosen.unique(["setting", "iteration", "parent_id", "reflection"], keep="first", maintain_order=True)
    chosen = chosen.group_by("setting", maintain_order=True).head(max(1, n // max(1, chosen["setting"].n_unique())))
    failures = pl.read_parquet(paths.m3_table("failures")).with_columns(
        failure_id=pl.format("{}:{}", "student", "problem_id"))
    rows = []
    for r in chosen.head(n).iter_rows(named=True):
        shown = failures.filter((pl.col("setting") == r["setting"]) & (pl.col("run") == r["run"])
                                & (pl.col("iteration") == r["iteration"]) & (pl.col("set_id") == r["parent_id"])
                                & pl.col("failure_id").is_in(r["failure_ids"])).unique("failure_id", maintain_order=True)
        text = "\n".join(f"{f['student']}: {f['question'][:160]} → answered {f['answer']} (gold {f['gold']})"
                         for f in shown.iter_rows(named=True))
        rows.append({"students": r["setting"], "iteration": r["iteration"], "failures": text,
                     "reflection": r["reflection_text"][:600], "status": r["status"]})
    return pl.DataFrame(rows)


INTRO = (
    "## M3: exemplar refinement (cf. the paper's Table 5)\n\n"
    "The teacher's held-out {metric} (%) with the best exemplar set after each iteration (iteration 0: the best "
    "initial set), mean ± standard error over {runs} runs, for each student setting: the students whose "
    "failures the teacher studied. Settings of one run start from the same sets and see the same minibatches."
)


def show_section() -> None:
    """Displays M3's report section (in a notebook)."""
    from IPython.display import Image, Markdown, display

    from lbt.notebook import table

    m = read_json(paths.M3_METRICS)
    metric = "F1 of the positive class" if m.get("metric") == "f1" else "accuracy"
    display(Markdown(INTRO.format(metric=metric, runs=m.get("runs", "?"))))
    display(table(heldout_table(), f"Teacher's held-out {metric} (%)"))
    display(Markdown(f"With no exemplars at all the teacher scores {100 * m.get('heldout_zero_shot', 0):.1f}% on "
                     f"the same {m.get('heldout_items', '?')} held-out items."))
    display(Image(paths.figure(paths.M3_FIGURE)))
    if m.get("vs_self"):
        display(table(vs_self_table(), "Final held-out score against the teacher as its own student, paired by run"))
    calls = m.get("calls_per_iteration", {})
    display(Markdown("Samples asked for per iteration of one run: " + ", ".join(f"{k} {v}" for k, v in calls.items())
                     + ". Proposals, and why some were dropped:"))
    display(table(proposal_table()))
    display(Markdown("### Reflections beside the failures that prompted them"))
    display(table(reflection_examples(), decimals=0))
