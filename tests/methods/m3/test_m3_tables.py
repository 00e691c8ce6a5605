"""M3's tables when no proposal parsed (as with SmolLM2-135M on Liar: 32 of 32 unparsable): the
columns that are null in every row keep their types, and the report's reflection examples work."""

from __future__ import annotations

import polars as pl

from lbt.methods.m3.loop import Record
from lbt.methods.m3.stages import write_tables
from lbt.report.m3 import reflection_examples


def _record_without_children() -> Record:
    rec = Record("smollm2", 0)
    rec.sets.append({**rec.keys(0), "set_id": "a1", "parent_id": None, "origin": "init", "reflection": None,
                     "questions": ["Statement: the tax doubled."], "rationales": ["No"], "train_score": 0.0,
                     "rank": 0, "kept": True})
    rec.failures.append({**rec.keys(1), "set_id": "a1", "student": "smollm2", "problem_id": "liar:train:7",
                         "family_id": "liar:train:7", "question": "Statement: the tax doubled.", "gold": "1",
                         "solution": "No", "answer": "0", "text": "No"})
    rec.reflections.append({**rec.keys(1), "parent_id": "a1", "reflection": 0, "failure_ids": ["smollm2:liar:train:7"],
                            "reflection_text": "The examples never say Yes.", "proposal": 0,
                            "proposal_text": "Here are better examples:", "child_id": None, "status": "unparsable"})
    return rec


def test_no_parsed_proposal_keeps_the_tables_typed_and_the_report_working(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tables = write_tables([_record_without_children()])
    assert tables["reflections"].schema["child_id"] == pl.String
    assert tables["sets"].schema["parent_id"] == pl.String and tables["sets"].schema["reflection"] == pl.Int64
    shown = reflection_examples()
    assert shown.height == 1 and shown["status"].to_list() == ["unparsable"]
    assert "the tax doubled" in shown["failures"][0] and "never say Yes" in shown["reflection"][0]
