"""Generation on a local Ray cluster against in-process: figures printed, nothing asserted.

    python scripts/bench_ray.py [--models data/models] [--workers 2] [--requests 50000] [--skip-exams]

1. The exams stage's generation on the toy models (params.yaml's toy world and its `alice`
   student; the teacher's TRs first, in-process): in-process, then on Ray with 2 workers, the
   same samples (the tables are compared). Without --models (a folder with teacher/ and student/,
   e.g. data/models after `dvc repro train_toy`) models of the default architecture are trained
   for a few steps first: a token costs what it costs, but untrained models write to max_tokens.
2. The per-task overhead: round trips of a one-item task to an actor that does nothing.
3. A simulated large run: `--requests` short requests through the engine and a real request cache,
   on actors that stand in for a model (they sleep `--ms-per-sample` per sample, as a GPU or a
   remote node would keep them busy without this machine's CPUs): throughput against workers, and
   the time the driver spends writing blocks to the cache.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from lbt.config import load_params
from lbt.engines.base import Completion, GenerationRequest
from lbt.engines.cache import RequestCache
from lbt.engines.config import RaySettings
from lbt.engines.engine import Engine
from lbt.engines.ray_cluster import connect, disconnect
from lbt.engines.ray_dispatch import dispatch
from lbt.engines.registry import make_engine
from lbt.tasks.base import SPLITS
from lbt.toy.task import ToyTask
from lbt.teaching.exams import exam_pairs, run_exam
from lbt.teaching.rationales import generate_rationales

READY_TIMEOUT_S = 180  # an overloaded machine may never start many actors: stop instead of waiting


def toy_models(folder: str | None, steps: int, out: Path) -> Path:
    if folder:
        return Path(folder)
    from lbt.toy.train import train_toy_model
    from lbt.toy.world import ToyWorld

    params = load_params("params.yaml", reads=["toy"])
    world = ToyWorld(params.toy.world)
    train = params.toy.train.model_copy(update={"steps": steps, "cooldown_steps": 0, "probe_every": steps})
    for role in ("teacher", "student"):
        train_toy_model(role, world, train, out / role, seed=0)
    return out


def bench_exams(models: Path, workers: int) -> None:
    params = load_params("params.yaml", reads=["toy", "teachers", "students", "rationales", "exam", "seed"])
    task = ToyTask(params.toy)
    problems = task.load_problems()
    teacher = params.teachers["teacher"].model_copy(update={"path": str(models / "teacher")})
    with make_engine(teacher, None) as engine:
        sampled, _ = generate_rationales(task, engine, False, problems, SPLITS["eval"], params.rationales, params.seed)
    pairs = exam_pairs(task, problems, sampled, SPLITS["eval"], params.exam.max_eps)
    student = params.students["alice"].model_copy(update={"path": str(models / "student")})
    tables, times = {}, {}
    for label, ray in (("in-process", None), (f"Ray, {workers} workers", RaySettings(workers=workers))):
        start = time.perf_counter()
        with make_engine(student.model_copy(update={"ray": ray}), None) as engine:
            ready = time.perf_counter()
            tables[label] = run_exam(task, engine, False, problems, pairs, params.exam, params.seed)
            done = time.perf_counter()
        times[label] = (ready - start, done - ready, time.perf_counter() - done)
    n = pairs.height * params.exam.repeats
    print(f"\n1. exams stage, toy student alice, {n} exam answers (max_tokens {params.exam.max_tokens}):")
    for label, (up, generate, down) in times.items():
        print(f"   {label:<18} start {up:6.1f} s  generate {generate:6.1f} s ({n / generate:6.0f} samples/s)"
              f"  stop {down:5.1f} s  total {up + generate + down:6.1f} s")
    first, second = tables.values()
    print(f"   tables identical (every completion, answer and grade): {first.equals(second)}")


class Idle:
    """An actor that does nothing: what a task costs beyond its work."""

    def run(self, items):
        return items


class StandIn:
    """An actor that stands in for a model: `ms` per sample of sleep, a short text per sample."""

    def __init__(self, ms: float) -> None:
        self.ms = ms

    def run(self, samples):
        time.sleep(self.ms * len(samples) / 1000)
        return [Completion(f"answer {s.request.seed % 97}", 3) for s in samples]


def bench_overhead(ray, tasks: int = 300) -> None:
    actor = ray.remote(num_cpus=0)(Idle).remote()
    ray.get(actor.run.remote([]))
    start = time.perf_counter()
    for i in range(tasks):
        ray.get(actor.run.remote([i]))
    serial = (time.perf_counter() - start) / tasks
    start = time.perf_counter()
    counts = {"resent": 0}
    list(dispatch(ray, [actor], [[i] for i in range(tasks)], lambda a, b: a.run.remote(b), "idle", 0, 2, counts))
    pipelined = (time.perf_counter() - start) / tasks
    print(f"\n2. per-task overhead (one-item task, idle actor): {serial * 1000:.2f} ms a round trip, "
          f"{pipelined * 1000:.2f} ms a task through the dispatcher (2 queued per actor)")
    ray.kill(actor)


class StandInBackend:
    """The engine's view of a Ray backend (identity + stream), over stand-in actors."""

    def __init__(self, ray, workers: int, ms: float, block: int) -> None:
        self.ray, self.block, self.identity = ray, block, f"stand-in:{ms}"
        self.actors = [ray.remote(num_cpus=0)(StandIn).remote(ms) for _ in range(workers)]
        ray.get([a.__ray_ready__.remote() for a in self.actors], timeout=READY_TIMEOUT_S)  # GetTimeoutError
        self.counts = {"resent": 0}

    def stream(self, samples):
        blocks = [list(range(s, min(s + self.block, len(samples)))) for s in range(0, len(samples), self.block)]
        def call(actor, block):
            return actor.run.remote([samples[i] for i in block])

        yield from dispatch(self.ray, self.actors, blocks, call, "stand-in", 0, 2, self.counts)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)


class TimedCache(RequestCache):
    written_s = 0.0

    def put_many(self, backend, items):
        start = time.perf_counter()
        super().put_many(backend, items)
        self.written_s += time.perf_counter() - start


def bench_large(ray, n: int, ms: float, block: int, worker_counts: list[int]) -> None:
    requests = [GenerationRequest(prompt=f"Q {i} R", temperature=1.0, max_tokens=8, seed=i) for i in range(n)]
    print(f"\n3. simulated run: {n} short requests, {ms} ms a sample on a stand-in actor, blocks of {block}:")
    for workers in worker_counts:
        with tempfile.TemporaryDirectory() as tmp:
            cache = TimedCache(Path(tmp) / "c.sqlite")
            try:
                backend = StandInBackend(ray, workers, ms, block)
            except ray.exceptions.GetTimeoutError:
                print(f"   {workers} workers: their actors did not start within {READY_TIMEOUT_S} s (machine too busy)")
                break
            engine = Engine(backend, cache, "stand-in", chunk_size=block)
            start = time.perf_counter()
            engine.generate(requests)
            seconds = time.perf_counter() - start
            stored = cache.count()
            engine.close()
        ideal = n * ms / 1000 / workers
        print(f"   {workers} workers: {seconds:6.1f} s, {n / seconds:7.0f} samples/s (ideal {n / ideal:7.0f}); "
              f"cache writes {cache.written_s:5.2f} s in all ({cache.written_s / seconds:5.1%} of the run, "
              f"{n / max(cache.written_s, 1e-9):,.0f} samples/s when writing), {stored} stored")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="a folder with teacher/ and student/ (default: train quick ones)")
    parser.add_argument("--train-steps", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--ms-per-sample", type=float, default=0.5)
    parser.add_argument("--block", type=int, default=256)
    parser.add_argument("--worker-counts", default="1,2,4,8")
    parser.add_argument("--skip-exams", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.skip_exams:
        with tempfile.TemporaryDirectory() as tmp:
            bench_exams(toy_models(args.models, args.train_steps, Path(tmp)), args.workers)
    counts = [int(c) for c in args.worker_counts.split(",")]
    ray = connect(RaySettings(workers=2))  # 2 CPUs for Ray; the stand-in and idle actors reserve none
    try:
        bench_overhead(ray)
        bench_large(ray, args.requests, args.ms_per_sample, args.block, counts)
    finally:
        disconnect()


if __name__ == "__main__":
    main()
