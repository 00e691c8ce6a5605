"""A small pool of worker processes that answer items under a per-item deadline.

Use it for work that may hang or take unbounded time (a symbolic solver, a parser with
pathological inputs) when signal-based timeouts are not an option (threads, Jupyter kernels):
the parent gives every item a deadline and kills and replaces a worker that overruns it.

Protocol (JSON lines on the worker's stdin and stdout):

- on start, the worker writes one line `"ready"` (within `start_timeout_s`);
- the parent writes one request line `{"op": <str>, "items": [<item>, ...]}`;
- the worker writes one reply line per item, in order (any JSON value but `null`, which
  reads as a dead worker), then waits for the
  next request; it exits when its stdin closes (so it never outlives its parent for long).

Items are routed to workers by `route(item)` (default: the item itself), so that a worker's own
caches see each key once. `run` serves one caller at a time (a lock); the workers' shares run
in parallel threads. An item whose reply does not come within `timeout_s` gets `on_timeout`,
its worker is killed (and counted in `timeouts`), and a fresh one takes the rest of its share.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import threading
import zlib
from typing import Any, Callable, Hashable, Mapping, Sequence

START_TIMEOUT_S = 120.0
CHUNK = 64  # items per request line


class Worker:
    """One worker child process and its stdout buffer."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None,
                 start_timeout_s: float = START_TIMEOUT_S) -> None:
        self.command = list(command)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=self.env, cwd=self.cwd,
        )
        self._buffer = b""
        if self.read_line(self.start_timeout_s) != "ready":
            self.stop()
            raise RuntimeError(
                f"The worker process {' '.join(self.command)} did not start (no 'ready' line); "
                "run that command by hand to see why."
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, op: str, items: Sequence[Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write((json.dumps({"op": op, "items": list(items)}) + "\n").encode())
        self.process.stdin.flush()

    def read_line(self, timeout_s: float) -> Any:
        """The next reply, or None if none came within `timeout_s` (or the worker died)."""
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if not selector.select(timeout_s):
                    return None
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return None
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.process = None


def worker_index(key: Hashable, n_workers: int) -> int:
    """A stable worker index for a routing key (crc32 of the string, or of its repr)."""
    text = key if isinstance(key, str) else repr(key)
    return zlib.crc32(text.encode()) % n_workers


class WorkerPool:
    """`n_workers` processes running `command`, started on first use; see the module docstring."""

    def __init__(self, command: Sequence[str], n_workers: int, timeout_s: float,
                 env: Mapping[str, str] | None = None, cwd: str | None = None,
                 start_timeout_s: float = START_TIMEOUT_S) -> None:
        if n_workers < 1 or timeout_s <= 0:
            raise ValueError(f"A worker pool needs n_workers >= 1 and timeout_s > 0, got {n_workers}, {timeout_s}.")
        self.command = list(command)
        self.n_workers = n_workers
        self.timeout_s = timeout_s
        self.timeouts = 0
        self._spawn = lambda: Worker(self.command, env, cwd, start_timeout_s)
        self._workers: list[Worker] = []
        self._lock = threading.Lock()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, op: str, items: Sequence[Any], on_timeout: Any,
            route: Callable[[Any], Hashable] | None = None) -> list[Any]:
        """The workers' reply for every item, in order (`on_timeout` where one overran)."""
        if not items:
            return []
        key = route or (lambda item: item)
        with self._lock:
            routed: list[list[int]] = [[] for _ in range(self.n_workers)]
            for index, item in enumerate(items):
                routed[worker_index(key(item), self.n_workers)].append(index)
            results: list[Any] = [on_timeout] * len(items)
            shares = [(w, indices) for w, indices in enumerate(routed) if indices]
            self._run_in_threads(op, items, shares, results, on_timeout)
            return results

    def _run_in_threads(self, op: str, items: Sequence[Any], shares: list[tuple[int, list[int]]],
                        results: list[Any], on_timeout: Any) -> None:
        errors: list[BaseException] = []

        def work(w: int, indices: list[int]) -> None:
            try:
                chunks = [indices[i : i + CHUNK] for i in range(0, len(indices), CHUNK)]
                self._run_share(w, op, items, chunks, results, on_timeout)
            except BaseException as error:  # re-raised in the caller's thread below
                errors.append(error)

        threads = [threading.Thread(target=work, args=share) for share in shares[1:]]
        for thread in threads:
            thread.start()
        work(*shares[0])
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def _run_share(self, w: int, op: str, items: Sequence[Any], share: list[list[int]],
                   results: list[Any], on_timeout: Any) -> None:
        worker = self._worker(w)
        for chunk in share:
            pending = list(chunk)
            while pending:
                if not worker.alive():
                    worker.start()
                worker.send(op, [items[i] for i in pending])
                done = 0
                for index in pending:
                    reply = worker.read_line(self.timeout_s)
                    done += 1
                    if reply is None:  # overran its deadline (or died): replace it
                        worker.stop()
                        self.timeouts += 1
                        results[index] = on_timeout
                        break
                    results[index] = reply
                pending = pending[done:]

    def _worker(self, w: int) -> Worker:
        while len(self._workers) <= w:
            self._workers.append(self._spawn())
        return self._workers[w]

    def pids(self) -> list[int]:
        """Process ids of the workers now running."""
        return [w.process.pid for w in self._workers if w.process is not None and w.alive()]

    def close(self) -> None:
        """Kill every worker; a later `run` starts fresh ones."""
        with self._lock:
            for worker in self._workers:
                worker.stop()
            self._workers = []
