"""An hf model's generation in a pool of Ray actors: one per worker, each loading the folder once.

`RayPoolBackend.stream(samples)` cuts the samples into blocks (the model's batch size, as the
in-process engine cuts its chunks, so each block decodes in the same batches and gives the same
text), keeps `TASKS_PER_WORKER` blocks queued at every actor, and yields each block as it lands,
so the engine caches it at once. The backend's identity is the in-process hf backend's: one
request cache serves both, and a worker whose folder differs from the driver's refuses to work.

A worker that dies (killed, out of memory, its node lost) is restarted by Ray up to
`ray.max_restarts` times; the blocks it held are sent again (counted in `counts["resent"]`; lbt.engines.ray_dispatch). Nothing
already cached is ever lost. Pools are shared by the models of a process that ask for the same
settings (an actor holds each model it was asked for, e.g. a teacher and its students in M3).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Iterator, Sequence

from lbt.engines.base import Completion, Sample
from lbt.engines.config import HFModel, RaySettings
from lbt.engines.fingerprint import model_identity
from lbt.engines.ray_cluster import RayError, check_room, connect, disconnect
from lbt.engines.ray_dispatch import dispatch, gather

TASKS_PER_WORKER = 2  # a second block waits at each actor: no idle gap while a result travels back


class WorkerError(RuntimeError):
    """A worker cannot serve a model (its folder is missing or differs); the message says what to do."""


class ModelWorker:
    """The body of one Ray actor: the models it was asked for, each loaded on first use."""

    def __init__(self, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.backends: dict[str, object] = {}

    def generate(self, config: HFModel, identity: str, samples: Sequence[Sample]) -> list[Completion]:
        key = config.model_dump_json(include={"path", "dtype", "device", "batch_size", "threads"})
        if key not in self.backends:
            self.backends[key] = self._load(config, identity)
        return self.backends[key].generate_samples(samples)

    @staticmethod
    def _load(config: HFModel, identity: str):
        from lbt.engines.hf import HFBackend

        node = socket.gethostname()
        if not Path(config.path).is_dir():
            raise WorkerError(f"The model folder {config.path} is missing on the Ray node {node}: copy it there at "
                              "the same path (or keep data/ on storage every node mounts) and rerun.")
        backend = HFBackend(config)
        if backend.identity != identity:
            raise WorkerError(f"The model folder {config.path} on the Ray node {node} is not the driver's "
                              f"({backend.identity} there, {identity} here): copy the driver's folder there and rerun.")
        return backend


class _Pool:
    """`settings.workers` live actors and how many models use them."""

    def __init__(self, ray, settings: RaySettings, name: str) -> None:
        check_room(ray, settings, name)
        remote = ray.remote(num_cpus=settings.cpus_per_worker, num_gpus=settings.gpus_per_worker,
                            max_restarts=settings.max_restarts, max_task_retries=0)(ModelWorker)
        threads = max(1, int(settings.cpus_per_worker))
        self.actors = [remote.remote(threads) for _ in range(settings.workers)]
        self.users = 0


_pools: dict[str, _Pool] = {}


class RayPoolBackend:
    """An hf model generating on a pool of Ray actors (see the module docstring)."""

    def __init__(self, config: HFModel) -> None:
        assert config.ray is not None
        self.settings, self.name = config.ray, config.name
        path = str(Path(config.path).resolve())  # workers share the driver's layout, not its working directory
        self._identity = model_identity("hf", path, config.dtype)
        self.remote_config = config.model_copy(update={"path": path, "ray": None, "prompt_prefix": None})
        self.block_size = self.settings.block_size or config.batch_size
        self.counts = {"resent": 0}  # samples sent again after their worker died (generated twice, at most)
        self.ray, self.pool = None, None
        self._key = self.settings.model_dump_json()

    def start(self) -> "_Pool":
        """Join the cluster and the pool now; else the first missing sample does (a stage whose samples are
        all cached starts no Ray at all)."""
        if self.pool is None:
            self.ray = connect(self.settings)
            try:
                if self._key not in _pools:
                    _pools[self._key] = _Pool(self.ray, self.settings, self.name)
            except BaseException:
                disconnect()
                raise
            self.pool = _pools[self._key]
            self.pool.users += 1
        return self.pool

    @property
    def identity(self) -> str:
        return self._identity

    def generate_samples(self, samples: Sequence[Sample]) -> list[Completion]:
        return gather(self.stream(samples), len(samples))

    def stream(self, samples: Sequence[Sample]) -> Iterator[tuple[list[int], list[Completion]]]:
        """(indices into `samples`, their completions) for every block, as each block lands."""
        if not samples:
            return
        actors = self.start().actors
        size = self.block_size
        blocks = [list(range(s, min(s + size, len(samples)))) for s in range(0, len(samples), size)]

        def call(actor, block: list[int]):
            return actor.generate.remote(self.remote_config, self._identity, [samples[i] for i in block])

        try:
            yield from dispatch(self.ray, actors, blocks, call, self.name, self.settings.max_restarts,
                                TASKS_PER_WORKER, self.counts)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, WorkerError):
                raise RayError(f"{self.name}: {exc.cause}") from None
            raise

    def close(self) -> None:
        """Leave the pool; the last model to leave kills its actors (and stops a local cluster)."""
        if self.pool is None:
            return
        self.pool.users -= 1
        if self.pool.users == 0:
            for actor in self.pool.actors:
                self.ray.kill(actor, no_restart=True)
            _pools.pop(self._key, None)
        self.pool = None
        disconnect()
