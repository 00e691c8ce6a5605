"""Which lbt modules a stage runs, read from the source: its notebook's imports, the runner, the
schemas of the sections it reads, and what the dispatchers load for it (its task, its models'
backends), each with everything they import in turn. The DVC graph lists their files as deps."""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path

from lbt import paths
from lbt.config import Params, schema_modules
from lbt.dag import Stage
from lbt.engines.registry import BACKEND_MODULES, RAY_MODULES
from lbt.tasks.registry import TASKS

ROOT = Path(__file__).resolve().parents[1]
RUNNER = "lbt.stage"
TASK_DISPATCH = ("lbt.tasks.make", "make_task")  # importing this name loads the stage's task
ENGINE_DISPATCH = "lbt.engines.registry"  # imports inside its functions pick the backends a stage runs
# Imports inside functions that run only where the params ask for them: (module, what it imports) ->
# whether a stage's params do.
CONDITIONAL = {
    ("lbt.teaching.exams", "lbt.tasks.similar"): lambda params: params.has("exam") and params.exam.maker == "similar",
}


def module_file(module: str) -> Path | None:
    """The source file of an lbt module, or None when it is not one."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _import_nodes(tree: ast.AST, top_level_only: bool) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of a parsed file, inside functions too unless `top_level_only`; never
    those under `if TYPE_CHECKING:` (they never run)."""
    found, todo = [], list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo += node.orelse
        elif not (top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))):
            todo += ast.iter_child_nodes(node)
    return found


def imported_modules(tree: ast.AST, module: str | None = None) -> set[str]:
    """The lbt modules a parsed file imports (inside functions too, except in the engine dispatcher)."""
    found: set[str] = set()
    for node in _import_nodes(tree, top_level_only=module == ENGINE_DISPATCH):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "lbt"}
        elif node.module and node.module.split(".")[0] == "lbt":
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if module_file(f"{node.module}.{a.name}")}
    return {m for m in found if module_file(m) and (module, m) not in CONDITIONAL}


@cache
def _tree(module: str) -> ast.AST:
    return ast.parse(module_file(module).read_text())  # type: ignore[union-attr]


@cache
def module_imports(module: str) -> frozenset[str]:
    """The lbt modules one module imports (parsed once per process)."""
    return frozenset(imported_modules(_tree(module), module))


def _makes_task(module: str) -> bool:
    source, name = TASK_DISPATCH
    return any(isinstance(n, ast.ImportFrom) and n.module == source and any(a.name == name for a in n.names)
               for n in _import_nodes(_tree(module), top_level_only=False))


def closure(modules: set[str]) -> set[str]:
    """Every lbt module reached from `modules`, with the packages (`__init__`) on the way."""
    todo, seen = list(modules), set()
    while todo:
        module = todo.pop()
        if module in seen or module_file(module) is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += module_imports(module)
    return seen


def notebook_imports(notebook: Path) -> set[str]:
    cells = json.loads(notebook.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return imported_modules(ast.parse(code))


def stage_modules(stage: Stage, params: Params, roots: set[str] | None = None) -> set[str]:
    """The lbt modules a stage runs: runner, notebook imports, section schemas, task, backends
    (`roots` instead of the runner and the notebook: a stage that runs a command)."""
    if roots is None:
        roots = {RUNNER, *notebook_imports(ROOT / paths.NOTEBOOKS / f"{stage.notebook}.ipynb")}
        roots |= {m for r in stage.reads for m in schema_modules(r)}
    found = closure(roots)
    if any(_makes_task(m) for m in found):
        found |= closure({TASKS[params.task].module})
    if ENGINE_DISPATCH in found:
        found |= closure({BACKEND_MODULES[m.backend] for m in stage.models})
        found |= closure({RAY_MODULES[m.backend] for m in stage.models if getattr(m, "ray", None) is not None})
    found |= closure({target for (source, target), asks in CONDITIONAL.items() if source in found and asks(params)})
    return found


def code_deps(modules: set[str]) -> list[str]:
    """The files of `modules`; a package without subpackages stands for all its files when every
    one is included, so each dependency names the file or its own folder."""
    files = {module_file(m).relative_to(ROOT).as_posix() for m in modules}  # type: ignore[union-attr]
    return sorted(_compress(ROOT / "lbt", files))


def _compress(folder: Path, files: set[str]) -> set[str]:
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "__pycache__")
    inside = {p.relative_to(ROOT).as_posix() for p in folder.glob("*.py")}
    if not subfolders and inside and inside <= files:
        return {folder.relative_to(ROOT).as_posix()}
    out = {f for f in files if Path(f).parent == folder.relative_to(ROOT)}
    for sub in subfolders:
        out |= _compress(sub, {f for f in files if f.startswith(sub.relative_to(ROOT).as_posix() + "/")})
    return out
