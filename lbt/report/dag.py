"""The report stage: it reads what every stage before it reports, and the sections it summarises."""

from __future__ import annotations

from lbt import paths
from lbt.config import Params
from lbt.dag import Stage
from lbt.tasks.registry import TASKS
from lbt.teaching.dag import debug_reads

TEACHING = ["rationales", "exam"]  # the teaching core's sections, summarised where the task has exams


def stage(params: Params, before: list[Stage], sections: list[str]) -> Stage:
    """The report of the stages `before`; `sections` are the methods' sections that ran. A task
    without exams (classification) has M3's report alone."""
    spec = TASKS[params.task]
    task = [*spec.report, *debug_reads(params)] if spec.exams else list(spec.report)
    return Stage("report", "report/report" if spec.exams else "report/m3",
                 ["task", *task, "teachers", "students", *(TEACHING if spec.exams else []), *sections],
                 deps=[f for s in before for f in s.reported], html=str(paths.REPORT_HTML))
