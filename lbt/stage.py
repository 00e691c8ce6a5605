"""Run one pipeline stage: check params.yaml, then execute the stage's notebook with papermill.

    python -m lbt.stage prepare                              # what dvc.yaml calls
    python -m lbt.stage rationales --teacher NAME            # one per teacher
    python -m lbt.stage exams --teacher NAME --student NAME  # one per (teacher, student)
    python -m lbt.stage --list                               # the stages and their notebooks

The executed copy lands in reports/ (a DVC output). A bad params.yaml or a failing cell ends the
stage with one line naming the problem (the full traceback stays in the executed notebook).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from lbt.config import ParamsError, load_params

# stage name -> (notebook, extra papermill parameters)
STAGES: dict[str, tuple[str, dict]] = {
    "prepare": ("01_prepare", {}),
    "train_teacher": ("02_train_toy", {"role": "teacher"}),
    "train_student": ("02_train_toy", {"role": "student"}),
    "rationales": ("03_rationales", {}),
    "exams": ("04_exams", {}),
    "scores": ("05_scores", {}),
    "select": ("06_select", {}),
    "report": ("07_report", {}),
}


# which models each stage runs for
NEEDS = {"rationales": ("teacher",), "exams": ("teacher", "student")}


def executed_path(stage: str, models: dict[str, str] | None = None) -> Path:
    """reports/03_rationales_<teacher>.ipynb, reports/04_exams_<teacher>__<student>.ipynb..."""
    notebook, extra = STAGES[stage]
    name = "_".join([notebook, *extra.values()])
    if models:
        name += "_" + "__".join(models.values())
    return Path("reports") / f"{name}.ipynb"


def run_stage(stage: str, params_path: str = "params.yaml", models: dict[str, str] | None = None) -> None:
    import papermill

    params = load_params(params_path)  # fail before any work
    models = models or {}
    for role in NEEDS.get(stage, ()):
        names = params.teachers if role == "teacher" else params.students
        if models.get(role) not in names:
            raise ParamsError(f"stage {stage} needs --{role} NAME, one of: {', '.join(names)}.")
    notebook, extra = STAGES[stage]
    out = executed_path(stage, models)
    out.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        f"notebooks/{notebook}.ipynb", str(out), parameters={"params_path": params_path, **extra, **models},
        kernel_name="python3", cwd=os.getcwd(), progress_bar=False, log_output=True,
    )
    if stage == "report":
        export_html(out, Path("reports") / "report.html")


def export_html(notebook: Path, html: Path) -> None:
    """The executed report as a standalone HTML page, code cells hidden."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    html.write_text(body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lbt.stage", description=__doc__.splitlines()[0])
    parser.add_argument("stage", nargs="?", choices=sorted(STAGES))
    parser.add_argument("--params", default="params.yaml", help="path of params.yaml")
    parser.add_argument("--teacher", help="teacher name (rationales, exams)")
    parser.add_argument("--student", help="student name (exams)")
    parser.add_argument("--list", action="store_true", help="list the stages and exit")
    args = parser.parse_args(argv)
    if args.list or not args.stage:
        for name, (nb, extra) in STAGES.items():
            print(f"{name:14s} notebooks/{nb}.ipynb {extra or ''}")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    models = {k: v for k, v in (("teacher", args.teacher), ("student", args.student)) if v}
    try:
        run_stage(args.stage, args.params, models)
    except ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # papermill's PapermillExecutionError carries the cell's error
        name, value = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
        print(f"error: stage {args.stage} failed: {name}: {value} "
              f"(traceback in {executed_path(args.stage, models)})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
