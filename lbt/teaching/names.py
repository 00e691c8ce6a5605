"""The names results are kept under: every teacher and student of params.yaml, each followed by
its self-debugged variant (`<name>+debug`) when `self_debug` turns that on."""

from __future__ import annotations

from lbt.config import Params
from lbt.teaching.config import debug_flags, with_debugged


def self_debugging(params: Params) -> tuple[bool, bool]:
    """(teacher, student): which models revise their failing answers once."""
    return debug_flags(params.self_debug if params.has("self_debug") else None)


def teacher_names(params: Params) -> list[str]:
    return with_debugged(params.teachers, self_debugging(params)[0])


def student_names(params: Params) -> list[str]:
    return with_debugged(params.students, self_debugging(params)[1])


def pair_names(params: Params) -> list[tuple[str, str]]:
    """Every (teacher, student) pair with an exams table."""
    return [(t, s) for t in teacher_names(params) for s in student_names(params)]
