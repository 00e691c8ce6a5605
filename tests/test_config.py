from pathlib import Path

import pytest
import yaml

from lbt.config import ParamsError, load_params, parse_params

REPO = Path(__file__).resolve().parents[1]


def _raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_committed_params_files_are_valid_and_every_section_is_read():
    from lbt.pipeline import unused_sections

    for path in [REPO / "params.yaml", *sorted((REPO / "params").glob("*.yaml"))]:
        load_params(path)  # every key of every section
        assert unused_sections(path) == [], path


def test_a_stage_sees_only_the_sections_it_declares():
    params = parse_params(_raw(), reads=["seed", "toy.world", "teachers.teacher"])
    assert params.seed == 0 and params.toy.world.n_verbs >= 2
    assert list(params.teachers) == ["teacher"] and params.teachers["teacher"].name == "teacher"
    with pytest.raises(ParamsError, match="`rationales` was read but not declared"):
        _ = params.rationales
    with pytest.raises(ParamsError, match="`toy.train` was read but not declared"):
        _ = params.toy.train


def test_a_declared_section_must_be_present_and_valid():
    raw = _raw()
    del raw["exam"]
    with pytest.raises(ParamsError, match="`exam` is missing"):
        parse_params(raw, reads=["exam"])
    parse_params(raw, reads=["rationales"])  # a stage that does not read it runs
    raw["rationales"]["top_p"] = 0
    with pytest.raises(ParamsError, match="`rationales.top_p`: Input should be greater than 0"):
        parse_params(raw, reads=["rationales"])


@pytest.mark.parametrize("where,key", [((), "seeds"), (("toy", "student"), "follow_pro"),
                                       (("rationales",), "num_rationale")])
def test_unknown_key_is_named_also_in_a_section_no_stage_reads(where, key):
    raw = _raw()
    node = raw
    for part in where:
        node = node[part]
    node[key] = 1
    dotted = ".".join([*where, key])
    with pytest.raises(ParamsError, match=rf"unknown key `{dotted}`; check its spelling"):
        parse_params(raw)


def test_wrong_type_names_key_and_value():
    raw = _raw()
    raw["rationales"]["num_rationales"] = "many"
    with pytest.raises(ParamsError) as err:
        parse_params(raw)
    message = str(err.value)
    assert "`rationales.num_rationales`" in message and "'many'" in message
    assert "\n" not in message


def test_out_of_range_value_says_what_is_allowed():
    raw = _raw()
    raw["toy"]["world"]["teacher_wrong_prob"] = 1.5
    with pytest.raises(ParamsError, match=r"`toy.world.teacher_wrong_prob`: Input should be less than or equal to 1"):
        parse_params(raw)


def test_bad_backend_and_backend_specific_keys():
    raw = _raw()
    raw["teachers"]["teacher"]["backend"] = "tgi"
    with pytest.raises(ParamsError, match="`teachers.teacher`"):
        parse_params(raw)
    raw = _raw()
    raw["students"]["alice"]["tensor_parallel_size"] = 2  # a vllm key on an hf model
    with pytest.raises(ParamsError, match=r"unknown key `students.alice.tensor_parallel_size`"):
        parse_params(raw)


def test_model_names_must_suit_files_and_stages():
    raw = _raw()
    raw["students"]["a__b"] = raw["students"].pop("alice")
    with pytest.raises(ParamsError, match="student name 'a__b'"):
        parse_params(raw)


def test_openai_model_parses():
    raw = _raw()
    raw["students"]["gpt-4o-mini"] = {"backend": "openai", "model": "gpt-4o-mini",
                                      "base_urls": ["http://a/v1", "http://b/v1"]}
    params = parse_params(raw)
    assert params.students["gpt-4o-mini"].base_urls == ["http://a/v1", "http://b/v1"]
    assert params.students["gpt-4o-mini"].name == "gpt-4o-mini"


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("task: [toy\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")


def test_persona_flaws_name_verbs_of_the_world():
    from lbt.toy.config import ToyParams

    with pytest.raises(ValueError, match=r"toy.student.personas.alice.flawed_verbs: 'klee' is not one of"):
        ToyParams.model_validate({"student": {"personas": {"alice": {"flawed_verbs": ["klee"]}}}})
    with pytest.raises(ValueError, match="persona name 'add'"):
        ToyParams.model_validate({"student": {"personas": {"add": {}}}})


def test_params_types_every_section_with_its_own_schema():
    """`Params`' annotations (what the type checker sees) name exactly the declared sections, and a
    section whose schema is a class is annotated with that class."""
    import importlib

    from lbt.config import SECTIONS, Params

    annotations = Params.__annotations__
    assert set(annotations) == set(SECTIONS)
    for name, target in SECTIONS.items():
        module, attribute = target.split(":")
        schema = getattr(importlib.import_module(module), attribute)
        if isinstance(schema, type) and schema.__module__ != "builtins":
            assert annotations[name] == attribute, (name, annotations[name], target)


def test_the_ray_params_are_the_default_with_every_model_on_ray():
    """params/toy-ray.yaml promises the default's metrics: it may differ from params.yaml only by
    each model's `ray` entry (a default changed in one file and not the other breaks that)."""
    default = yaml.safe_load((REPO / "params.yaml").read_text())
    on_ray = yaml.safe_load((REPO / "params" / "toy-ray.yaml").read_text())
    for section in ("teachers", "students"):
        for name, model in on_ray[section].items():
            assert model.pop("ray")["workers"] >= 1, f"{section}.{name} has no Ray workers"
    assert on_ray == default
