"""requirements.lock, the constraints the install uses, agrees with pyproject.toml: every dependency
(the `test` extra's included) is pinned there to a version its specifier allows. Offline and fast."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
LOCKED_EXTRAS = ("test",)  # not `vllm`: its tree (CUDA) is installed without the lock
# The platform the lock is made for: Python 3.11 on x86_64 Linux.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython"}
INSTALL = "-c requirements.lock -e '.[test]'"  # the arguments of `pip install` in the README and CI


def lock_pins(lock_text: str) -> dict[str, Version]:
    """Package name (canonical) -> pinned version; every entry must be a plain `name==version`."""
    pins: dict[str, Version] = {}
    for line in lock_text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        requirement = Requirement(entry)
        [spec] = requirement.specifier
        assert spec.operator == "==" and requirement.marker is None, f"not a plain pin in the lock: {entry!r}"
        pins[canonicalize_name(requirement.name)] = Version(spec.version)
    return pins


def declared(pyproject_text: str) -> list[Requirement]:
    """pyproject's dependencies and locked extras that apply on the lock's platform."""
    project = tomllib.loads(pyproject_text)["project"]
    texts = list(project["dependencies"])
    for extra in LOCKED_EXTRAS:
        texts += project.get("optional-dependencies", {}).get(extra, [])
    requirements = [Requirement(text) for text in texts]
    return [r for r in requirements if r.marker is None or r.marker.evaluate(TARGET)]


def disagreements(pyproject_text: str, lock_text: str) -> list[str]:
    pins = lock_pins(lock_text)
    problems = []
    for requirement in declared(pyproject_text):
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} is not in requirements.lock")
        elif not requirement.specifier.contains(pin, prereleases=True):
            problems.append(f"{requirement.name}: locked {pin}, pyproject wants {requirement.specifier}")
    return problems


def refresh_command(lock_text: str) -> str:
    """The command in the lock's header comment that made it."""
    return next(line.lstrip("# ").strip() for line in lock_text.splitlines() if "uv pip compile" in line)


def test_the_lock_pins_every_dependency_of_pyproject() -> None:
    lock_text = LOCK.read_text()

    problems = disagreements((ROOT / "pyproject.toml").read_text(), lock_text)

    assert problems == [], f"requirements.lock is stale: {'; '.join(problems)} (refresh: {refresh_command(lock_text)})"


def test_the_lock_pins_the_cpu_torch_on_disk() -> None:
    assert lock_pins(LOCK.read_text())["torch"] == Version("2.13.0")  # matches 2.13.0+cpu too


def test_a_stale_lock_is_noticed() -> None:
    pyproject = """
[project]
dependencies = ["torch==2.13.0", "tqdm", "pywin32; sys_platform == 'win32'"]
[project.optional-dependencies]
test = ["pytest>=8"]
vllm = ["vllm==0.32.0"]
"""
    lock = "torch==2.12.0\n    # via lbt\npytest==7.4.0\n"

    assert disagreements(pyproject, lock) == [
        "torch: locked 2.12.0, pyproject wants ==2.13.0",
        "tqdm is not in requirements.lock",
        "pytest: locked 7.4.0, pyproject wants >=8",
    ]


def test_the_lock_refreshes_with_one_command_and_the_installs_use_it() -> None:
    command = refresh_command(LOCK.read_text())
    assert command.startswith("uv pip compile pyproject.toml --extra test --python-version 3.11")
    assert command in (ROOT / "README.md").read_text()
    for path in ("README.md", ".ci/run"):
        installs = [line for line in (ROOT / path).read_text().splitlines() if "pip install" in line]
        assert any(INSTALL in line for line in installs), f"{path} does not install with the lock"
