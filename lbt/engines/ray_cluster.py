"""The one connection of this process to a Ray cluster, shared by every model that generates on it.

`connect(settings)` starts a local cluster (`address: local`: `workers x cpus_per_worker` CPUs, no
dashboard) or joins a running one (`auto`, or an address); `disconnect()` is its pair, and the last
one stops a local cluster this process started. Workers import the driver's `lbt`: on a local
cluster from its folder (PYTHONPATH), on a real one as a `py_modules` package Ray ships to every
node (the rest of the environment must be installed there). Every failure is a `RayError` whose
message is one sentence naming the cause and what to do.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import psutil

from lbt.engines.config import RaySettings

LBT_DIR = Path(__file__).resolve().parents[1]  # the driver's lbt package
_PROBE_TIMEOUT_S = 5.0
_LOCAL_STARTS = 2  # Ray gives its local processes 30 s to start, a fixed limit a busy machine can miss
_INSTALL = "pip install -c requirements.lock -e '.[ray]'"
_state: dict[str, Any] = {"address": None, "users": 0, "started": False}


class RayError(RuntimeError):
    """Generation on Ray cannot go on; the message says why and what to do."""


def import_ray():
    try:
        import ray
    except ModuleNotFoundError as err:
        if err.name != "ray":
            raise
        raise RayError(f"Generation on Ray needs the ray package: install it with `{_INSTALL}`.") from None
    return ray


def connect(settings: RaySettings):
    """The `ray` module, connected to the cluster of `settings.address`."""
    ray = import_ray()
    address = settings.address
    if _state["users"] and _state["address"] != address:
        raise RayError(f"This stage is already on the Ray cluster {_state['address']!r} and a model asks for "
                       f"{address!r}: give every model of the stage the same ray.address.")
    if not ray.is_initialized():
        _init(ray, settings)
        _state["started"] = address == "local"
    _state["address"] = address
    _state["users"] += 1
    return ray


def _init(ray, settings: RaySettings) -> None:
    common = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=True)
    if settings.address == "local":
        _start_local(ray, settings, common)
        return
    where = os.environ.get("RAY_ADDRESS") or settings.address
    try:
        _probe(where)  # ray.init retries an address that never answers for minutes
        ray.init(address=settings.address, runtime_env={"py_modules": [str(LBT_DIR)]}, **common)
    except (OSError, TimeoutError, RuntimeError, ValueError) as exc:  # ConnectionError is an OSError
        reason = " ".join((getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).split())[:200]
        raise RayError(f"No Ray cluster answers at {where} ({reason}): start one with `ray start --head` there "
                       "(or join this machine to one), fix ray.address or RAY_ADDRESS, or set ray.address to "
                       "local.") from None


def _start_local(ray, settings: RaySettings, common: dict) -> None:
    """A local cluster of `workers x cpus_per_worker` CPUs; Ray's fixed 30 s start may be missed on a busy machine."""
    path = os.pathsep.join(p for p in (str(LBT_DIR.parent), os.environ.get("PYTHONPATH", "")) if p)
    for _ in range(_LOCAL_STARTS):
        before = {child.pid for child in psutil.Process().children(recursive=True)}
        try:
            ray.init(address="local", num_cpus=max(1, round(settings.workers * settings.cpus_per_worker)),
                     num_gpus=int(settings.workers * settings.gpus_per_worker),
                     runtime_env={"env_vars": {"PYTHONPATH": path}}, **common)
            return
        except Exception as exc:  # Ray raises a bare Exception when its own processes start too slowly
            if "timed out during startup" not in str(exc):
                raise
            ray.shutdown()
            _kill_new_children(before)  # a failed start leaves its GCS, raylet and agents running
    raise RayError(f"The local Ray cluster did not start within Ray's 30 s, {_LOCAL_STARTS} times (an "
                   "overloaded machine?): rerun the stage, or generate in-process (drop the models' ray: "
                   "setting).")


def _probe(address: str) -> None:
    """Raise OSError unless something listens at the cluster's address (host:port, ray://host:port, auto)."""
    if address == "auto":  # the cluster this machine started or joined (`ray start`), as ray.init finds it
        from ray._private.services import canonicalize_bootstrap_address_or_die

        address = canonicalize_bootstrap_address_or_die("auto")
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"not host:port: {address!r}")
    socket.create_connection((host.strip("[]"), int(port)), timeout=_PROBE_TIMEOUT_S).close()


def _kill_new_children(before: set[int]) -> None:
    """Kill this process's descendants that were not there before (what a failed local start left)."""
    for child in psutil.Process().children(recursive=True):
        if child.pid not in before:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass


def disconnect() -> None:
    """One user fewer; the last stops the local cluster this process started."""
    if _state["users"] == 0:
        return
    _state["users"] -= 1
    if _state["users"] == 0:
        if _state["started"]:
            import_ray().shutdown()
        _state.update(address=None, started=False)


def check_room(ray, settings: RaySettings, name: str) -> None:
    """Stop with a sentence, not a hang, when the cluster can never place `settings.workers` actors."""
    # a local cluster is this process's own: what other pools hold is not coming back during the stage
    total = ray.available_resources() if settings.address == "local" else ray.cluster_resources()
    for resource, each in (("CPU", settings.cpus_per_worker), ("GPU", settings.gpus_per_worker)):
        need, have = settings.workers * each, total.get(resource, 0.0)
        if each and need > have + 1e-9:
            raise RayError(f"{name}: {settings.workers} Ray workers need {need:g} {resource}s and the cluster has "
                           f"{have:g}: lower ray.workers or ray.{resource.lower()}s_per_worker, or add nodes.")
