"""The params.yaml schema and its loader.

Each top-level section has a schema that lives in the room it configures (`SECTIONS` names
them; they are imported only when needed). A stage loads only the sections it reads
(`load_params(path, reads=[...])`), so a change to one method's schema never reruns another
method's stages, and reading an undeclared section is an error. The `check` stage, which runs
first on every `dvc repro`, validates the whole file (`load_params(path)`): an unknown key, a
wrong type or an out-of-range value stops the run with one sentence naming the key.
"""

from __future__ import annotations

import ast
import importlib
import re
import typing
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from lbt.tasks.registry import TASKS

if TYPE_CHECKING:  # the sections' schemas, for the type checker only (a stage imports what it reads)
    from lbt.engines.config import ModelConfig
    from lbt.methods.m1.config import SelectionParams
    from lbt.methods.m2.config import M2Params
    from lbt.methods.m3.config import M3Params
    from lbt.tasks.classify.config import ClassifyParams
    from lbt.tasks.code.config import CodeParams
    from lbt.tasks.math.config import MathParams
    from lbt.teaching.config import ExamParams, RationaleParams, SelfDebugParams
    from lbt.toy.code.config import ToyCodeParams
    from lbt.toy.config import ToyParams

# section -> "module:attribute" of its schema (a pydantic model or a type); each task's own
# section comes from its registration (`lbt.tasks.registry.TASKS`), each method's from its package
SECTIONS: dict[str, str] = {
    "task": "lbt.tasks.registry:TaskName",
    "seed": "builtins:int",
    "cache_path": "builtins:str",
    **{spec.section: spec.schema for spec in TASKS.values()},
    "teachers": "lbt.engines.config:NamedModels",
    "students": "lbt.engines.config:NamedModels",
    "rationales": "lbt.teaching.config:RationaleParams",
    "exam": "lbt.teaching.config:ExamParams",
    "self_debug": "lbt.teaching.config:SelfDebugParams",
}

METHODS = Path(__file__).parent / "methods"


def method_packages() -> list[str]:
    """The method packages under lbt/methods, by name."""
    return sorted(p.parent.name for p in METHODS.glob("*/__init__.py"))


def method_sections(package: str) -> dict[str, str]:
    """The `SECTIONS` a method package declares, read from its __init__.py without importing it (a
    stage loads only the methods it runs)."""
    tree = ast.parse((METHODS / package / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["SECTIONS"]:
            return ast.literal_eval(node.value)
    return {}


SECTIONS.update({name: schema for package in method_packages() for name, schema in method_sections(package).items()})

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class ParamsError(ValueError):
    """A problem with params.yaml that the user can fix; the message is one sentence."""


class Params:
    """The validated sections a stage reads, as attributes (`params.rationales.num_rationales`,
    `params.teachers["teacher"]`). A section that was not declared raises `ParamsError`.

    The annotations type each section for the type checker (`tests/test_config.py` checks that they
    name exactly `SECTIONS`, each with its schema); the values come from `__getattr__`."""

    task: str
    seed: int
    cache_path: str
    teachers: dict[str, ModelConfig]
    students: dict[str, ModelConfig]
    rationales: RationaleParams
    exam: ExamParams
    self_debug: SelfDebugParams
    toy: ToyParams
    toy_code: ToyCodeParams
    math: MathParams
    code: CodeParams
    classify: ClassifyParams
    selection: SelectionParams
    m2: M2Params
    m3: M3Params

    def __init__(self, values: dict[str, Any], source: str) -> None:
        self._values, self._source = values, source

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._values:
            raise ParamsError(
                f"{self._source}: section `{name}` was read but not declared by this stage; add it to "
                "the stage's `reads` (in its room's `dag` module) so that DVC tracks it."
            )
        return self._values[name]

    def has(self, name: str) -> bool:
        return name in self._values

    @property
    def source(self) -> str:
        """The params file the sections were read from."""
        return self._source


def load_params(path: str | Path = "params.yaml", reads: list[str] | None = None) -> Params:
    """The sections `reads` of the params file (all sections when None), validated."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path} not found: run from the project root or pass the path of params.yaml.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ParamsError(f"{path} is not valid YAML: {err}".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path} must hold a mapping of sections, not {type(raw).__name__}.")
    return parse_params(raw, reads, source=str(path))


def parse_params(raw: dict[str, Any], reads: list[str] | None = None, source: str = "params.yaml") -> Params:
    if reads is None:
        unknown = sorted(set(raw) - set(SECTIONS))
        if unknown:
            raise ParamsError(f"{source}: unknown key `{unknown[0]}`; check its spelling against the documented "
                              "keys in the README.")
        reads = list(raw)
    values: dict[str, Any] = {}
    for dotted in reads:
        top = dotted.split(".")[0]
        if top not in SECTIONS:
            raise ParamsError(f"{source}: no section `{top}` is known (reading `{dotted}`).")
        node = lookup(raw, dotted)
        if node is MISSING:
            raise ParamsError(f"{source}: `{dotted}` is missing; add it (see the README for its keys).")
        _store(values, dotted.split("."), _validate(dotted, node, source))
    return Params(values, source)


MISSING = object()


def lookup(raw: dict[str, Any], dotted: str) -> Any:
    """The value at `dotted` (e.g. `toy.world`) in a raw params mapping, or MISSING."""
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def _store(values: dict[str, Any], parts: list[str], value: Any) -> None:
    """values["toy"].world = value for ["toy", "world"]: a model section holds its declared
    children as attributes, a mapping section (teachers) as a dict."""
    node = values
    for depth, part in enumerate(parts[:-1]):
        parent = ".".join(parts[: depth + 1])
        if part not in node:
            node[part] = {} if _is_mapping(section_schema(parent)) else _Partial(parent)
        child = node[part]
        node = child if isinstance(child, dict) else child.__dict__["_children"]
    node[parts[-1]] = value


def _is_mapping(schema: Any) -> bool:
    return typing.get_origin(_unwrap(schema)) is dict


def _unwrap(schema: Any) -> Any:
    return typing.get_args(schema)[0] if typing.get_origin(schema) is typing.Annotated else schema


class _Partial:
    """The declared children of a section (e.g. `toy.world` without `toy.train`)."""

    def __init__(self, name: str) -> None:
        self.__dict__["_name"], self.__dict__["_children"] = name, {}

    def __getattr__(self, name: str) -> Any:
        children = self.__dict__["_children"]
        if name not in children:
            raise ParamsError(f"section `{self.__dict__['_name']}.{name}` was read but not declared by this stage.")
        return children[name]


def _validate(dotted: str, value: Any, source: str) -> Any:
    schema = section_schema(dotted)
    try:
        validated = TypeAdapter(schema).validate_python(value)
    except ValidationError as err:
        raise ParamsError(describe_error(err, dotted, source)) from None
    if dotted in ("teachers", "students") or dotted.startswith(("teachers.", "students.")):
        _name_models(dotted, validated)
    return validated


def _name_models(dotted: str, validated: Any) -> None:
    models = validated if isinstance(validated, dict) else {dotted.split(".", 1)[1]: validated}
    for key, model in models.items():
        if not _MODEL_NAME.match(key) or "__" in key:
            raise ParamsError(
                f"{dotted.split('.')[0].rstrip('s')} name {key!r} must start with a letter or digit and use only letters, "
                "digits, '_', '.', '+', '-' (no '__'): it names files and DVC stages."
            )
        model.name = key


@cache
def section_schema(dotted: str) -> Any:
    """The schema of a section or of a part of one (`toy.world`, `teachers.gpt-4o-mini`)."""
    top, *rest = dotted.split(".")
    module, attribute = SECTIONS[top].split(":")
    schema: Any = getattr(importlib.import_module(module), attribute)
    for part in rest:
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            if part not in schema.model_fields:
                raise ParamsError(f"`{dotted}`: `{part}` is not a key of `{top}`.")
            schema = schema.model_fields[part].annotation
        elif _is_mapping(schema):  # teachers.<name>
            schema = typing.get_args(_unwrap(schema))[1]
        else:
            raise ParamsError(f"`{dotted}`: `{top}` has no parts.")
    return schema


def schema_modules(dotted: str) -> list[str]:
    """The module that holds a section's schema (for the DVC graph)."""
    return [SECTIONS[dotted.split(".")[0]].split(":")[0]]


def describe_error(err: ValidationError, section: str, source: str) -> str:
    """The first validation error as one sentence naming the key and what is allowed."""
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"] if not str(p).startswith(("function-", "tagged-union"))]
    loc = [p for p in loc if p not in ("hf", "vllm", "openai") or p == loc[-1]]
    key = ".".join([section, *loc])
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key `{key}`; check its spelling against the documented keys in the README."
    got = first.get("input")
    shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
    return f"{source}: `{key}`: {first['msg']}{shown}."
