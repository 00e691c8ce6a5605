"""A `Backend` that talks to OpenAI-compatible HTTP servers: OpenAI, Azure OpenAI, `vllm serve`.

Every `Sample` becomes one request with `n=1` and `seed=sample.seed`, so each sample is produced
(and cached upstream) on its own. Requests run concurrently on a private asyncio loop in a
dedicated thread, which keeps `generate_samples` synchronous and usable from code that already
runs inside an event loop (Jupyter and papermill kernels do). They are spread over several
`base_urls` (least requests in flight first), capped at `max_concurrency` in flight overall, and
retried with exponential backoff and jitter on 429, 408/409, 5xx, connection errors and timeouts.
Retries are logged as a summary (counts per base URL and cause) at most every 30 s and at the end
of each call, never one line per sample. When no base URL can be reached at all (nothing listening,
unknown host), a circuit breaker ends the call after a few rounds of attempts with one error naming
the URLs, instead of letting every sample use up its retries.

The API key is read from the environment variable named by `api_key_env` when there is something
to generate (a fully cached rerun needs no key); it is added to each request's headers at send
time, and is scrubbed from any server message quoted in an error. It never appears in an
exception, a log record, a repr, `identity` or a returned `Completion`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from tqdm import tqdm

from lbt.engines.base import Completion, Sample
from lbt.engines.config import OpenAIModel

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_MAX_QUOTED_MESSAGE = 500
_MAX_RETRY_AFTER_S = 600.0  # a sanity cap on what a server may ask us to wait
_RETRY_SUMMARY_EVERY_S = 30.0
# The breaker trips once every base URL has failed to connect this many times in a row and one
# sample has failed to connect on this many attempts in a row (so backoff has let time pass).
_BREAKER_STREAK = 3


class OpenAIBackendError(RuntimeError):
    """A request the server refused, or one that kept failing after every retry."""


class MissingAPIKeyError(OpenAIBackendError):
    """The environment variable that should hold the API key is unset or empty."""


class _Secret:
    """A string that never shows itself in a repr or str (tracebacks with locals, debuggers)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        return text.replace(self._value, "<redacted>") if self._value else text

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class _KeyHeaderAuth(httpx.Auth):
    """Adds the API key header to each outgoing request, as late as possible."""

    def __init__(self, header: str, prefix: str, secret: _Secret) -> None:
        self._header = header
        self._prefix = prefix
        self._secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._prefix + self._secret.reveal()
        yield request

    def __repr__(self) -> str:
        return f"_KeyHeaderAuth(header={self._header!r})"


@dataclass(frozen=True)
class _Call:
    """One sample as an HTTP request: which endpoint and what JSON body."""

    endpoint: str  # "completions" or "chat/completions"
    body: dict[str, Any]


@dataclass(frozen=True)
class _RetryableFailure:
    """What went wrong with one attempt that is worth trying again."""

    description: str
    retry_after_s: float | None = None
    cause: str = "error"  # short, for the retry summary: "HTTP 429", "timeout", "connection refused"...
    unreachable: bool = False  # no connection at all: nothing listening, unknown host, connect timeout


class _ReplicaPool:
    """Chooses a base URL per attempt: fewest requests in flight, ties broken round robin."""

    def __init__(self, base_urls: Sequence[str]) -> None:
        self.base_urls = list(base_urls)
        self._in_flight = [0] * len(self.base_urls)
        self._next = 0

    def acquire(self, avoid: int | None = None) -> int:
        count = len(self.base_urls)
        order = [(self._next + k) % count for k in range(count)]
        candidates = [i for i in order if i != avoid] or order
        chosen = min(candidates, key=lambda i: self._in_flight[i])
        self._next = (chosen + 1) % count
        self._in_flight[chosen] += 1
        return chosen

    def release(self, index: int) -> None:
        self._in_flight[index] -= 1


class OpenAIBackend:
    """Generates samples through an OpenAI-compatible completions / chat completions API."""

    def __init__(
        self,
        config: OpenAIModel,
        *,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        show_progress: bool = True,
    ) -> None:
        if config.api_type == "azure" and not config.api_version:
            raise ValueError(f"Model {config.name!r} uses api_type 'azure', which needs `api_version` (e.g. 2024-10-21).")
        self.config = config
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.show_progress = show_progress

    @property
    def identity(self) -> str:
        prefix = "azure-openai" if self.config.api_type == "azure" else "openai"
        return f"{prefix}:{self.config.model}"

    def close(self) -> None:
        """Nothing to release: each `generate_samples` call opens and closes its own connections."""

    def __repr__(self) -> str:
        return (
            f"OpenAIBackend(model={self.config.model!r}, api_type={self.config.api_type!r}, "
            f"replicas={len(self.config.base_urls)}, max_concurrency={self.config.max_concurrency})"
        )

    def generate_samples(self, samples: Sequence[Sample]) -> list[Completion]:
        """One completion per sample, in order; blocks until all are done."""
        pending = list(samples)
        if not pending:
            return []
        secret = self._api_key()
        return _run_in_private_loop(lambda: self._generate_all(pending, secret))

    # -- request building ------------------------------------------------------------------

    def _api_key(self) -> _Secret | None:
        env_name = self.config.api_key_env
        if env_name is None:
            return None
        value = os.environ.get(env_name, "")
        if not value:
            raise MissingAPIKeyError(
                f"Model {self.config.name!r} needs an API key in the environment variable {env_name}, "
                "which is not set (export it, or set api_key_env: null for a server without keys)."
            )
        return _Secret(value)

    def _auth(self, secret: _Secret | None) -> httpx.Auth | None:
        if secret is None:
            return None
        if self.config.api_type == "azure":
            return _KeyHeaderAuth("api-key", "", secret)
        return _KeyHeaderAuth("Authorization", "Bearer ", secret)

    def _call_for(self, sample: Sample) -> _Call:
        request = sample.request
        body: dict[str, Any] = {
            "model": self.config.model,
            "n": 1,
            "seed": sample.seed,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.top_k > 0:
            body["top_k"] = request.top_k  # vLLM extension; OpenAI itself has no top_k
        if request.messages is not None:
            body["messages"] = [{"role": role, "content": content} for role, content in request.messages]
            return _Call("chat/completions", body)
        body["prompt"] = request.prompt
        return _Call("completions", body)

    def _url(self, base_url: str, endpoint: str) -> str:
        base = base_url.rstrip("/")
        if self.config.api_type == "azure":
            return f"{base}/openai/deployments/{quote(self.config.model, safe='')}/{endpoint}"
        return f"{base}/{endpoint}"

    def _query(self) -> dict[str, str]:
        if self.config.api_type == "azure" and self.config.api_version:
            return {"api-version": self.config.api_version}
        return {}

    # -- the async work --------------------------------------------------------------------

    async def _generate_all(self, samples: list[Sample], secret: _Secret | None) -> list[Completion]:
        limit = self.config.max_concurrency
        client = httpx.AsyncClient(
            auth=self._auth(secret),
            timeout=httpx.Timeout(self.config.timeout_s),
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        )
        desc = f"{self.config.name} ({self.identity})"
        async with client:
            with tqdm(total=len(samples), desc=desc, unit="sample", disable=not self.show_progress) as bar:
                run = _Run(
                    client, _ReplicaPool(self.config.base_urls), asyncio.Semaphore(limit), bar, secret,
                    breaker=_Breaker(self.config.base_urls, min(_BREAKER_STREAK, self.config.max_retries + 1)),
                    retry_log=_RetryLog(self.config.name),
                )
                tasks = [asyncio.create_task(self._generate_one(run, sample)) for sample in samples]
                try:
                    return list(await asyncio.gather(*tasks))
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
                finally:
                    run.retry_log.flush()

    async def _generate_one(self, run: _Run, sample: Sample) -> Completion:
        call = self._call_for(sample)
        attempts = self.config.max_retries + 1
        last_replica: int | None = None
        unreachable_streak = 0  # this sample's attempts in a row that could not connect
        for attempt in range(1, attempts + 1):
            async with run.in_flight:
                replica = run.pool.acquire(avoid=last_replica)
                try:
                    outcome = await self._attempt(run, run.pool.base_urls[replica], call)
                finally:
                    run.pool.release(replica)
            if isinstance(outcome, Completion):
                run.breaker.answered(replica)
                run.bar.update(1)
                return outcome
            if outcome.unreachable:
                unreachable_streak += 1
                run.breaker.unreachable(replica, outcome.cause)
                if run.breaker.tripped(unreachable_streak):
                    raise OpenAIBackendError(run.breaker.message(self.config.name))
            else:
                unreachable_streak = 0
                run.breaker.answered(replica)  # it answered, even if with an error
            if attempt == attempts:
                raise OpenAIBackendError(
                    f"{self._what(call)} failed {attempts} times (max_retries={self.config.max_retries}); "
                    f"last error: {outcome.description}."
                )
            delay = self._retry_delay(attempt, outcome.retry_after_s)
            run.retries += 1
            run.bar.set_postfix(retries=run.retries, refresh=False)
            run.retry_log.record(run.pool.base_urls[replica], outcome)
            last_replica = replica
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(self, run: _Run, base_url: str, call: _Call) -> Completion | _RetryableFailure:
        url = self._url(base_url, call.endpoint)
        try:
            response = await run.client.post(url, params=self._query(), json=call.body)
        except httpx.ConnectTimeout:
            cause = f"connect timed out after {self.config.timeout_s:g} s"
            return _RetryableFailure(f"could not connect to {_display(url)} ({cause})", cause=cause, unreachable=True)
        except httpx.TimeoutException:
            return _RetryableFailure(f"no answer from {_display(url)} within {self.config.timeout_s:g} s",
                                     cause="timeout")
        except httpx.ConnectError as exc:
            cause = run.scrub(_connect_failure(exc))
            return _RetryableFailure(f"could not connect to {_display(url)} ({cause})", cause=cause, unreachable=True)
        except httpx.TransportError as exc:
            detail = run.scrub(f"{type(exc).__name__}: {exc}")
            return _RetryableFailure(f"connection error with {_display(url)} ({detail})",
                                     cause=f"connection error ({type(exc).__name__})")
        if response.status_code == 200:
            return self._parse(run, response, call, url)
        message = run.scrub(_error_message(response))
        description = f"HTTP {response.status_code} from {_display(url)}: {message}"
        if response.status_code in _RETRYABLE_STATUSES or response.status_code >= 500:
            return _RetryableFailure(description, _retry_after_s(response.headers),
                                     cause=f"HTTP {response.status_code} ({_shorten(message)})")
        hint = " (check base_urls: OpenAI-style ones usually end in /v1)" if response.status_code == 404 else ""
        raise OpenAIBackendError(f"{self._what(call)} was refused: {description}{hint}")

    def _parse(self, run: _Run, response: httpx.Response, call: _Call, url: str) -> Completion:
        try:
            payload = response.json()
            choice = payload["choices"][0]
            if call.endpoint == "chat/completions":
                text = (choice.get("message") or {}).get("content") or ""
            else:
                text = choice.get("text") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            excerpt = run.scrub(response.text[:_MAX_QUOTED_MESSAGE])
            raise OpenAIBackendError(
                f"{self._what(call)}: {_display(url)} answered 200 but not with OpenAI-style JSON "
                f"(check base_urls and api_type): {excerpt!r}"
            ) from None
        return Completion(
            text=text,
            n_tokens=_completion_tokens(payload.get("usage"), text),
            finish_reason=_finish_reason(choice.get("finish_reason")),
        )

    def _retry_delay(self, attempt: int, retry_after_s: float | None) -> float:
        """The server's Retry-After if it gave one, else exponential backoff with jitter."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), _MAX_RETRY_AFTER_S)
        ceiling = min(self.backoff_base_s * 2 ** (attempt - 1), self.backoff_max_s)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _what(self, call: _Call) -> str:
        return f"{self.config.name}: {call.endpoint} request (seed {call.body['seed']})"


@dataclass
class _Run:
    """What one `generate_samples` call shares between its requests."""

    client: httpx.AsyncClient
    pool: _ReplicaPool
    in_flight: asyncio.Semaphore
    bar: Any
    secret: _Secret | None
    breaker: _Breaker
    retry_log: _RetryLog
    retries: int = 0

    def scrub(self, text: str) -> str:
        return self.secret.scrub(text) if self.secret else text


class _Breaker:
    """Notices when no base URL can be reached at all, so that a call stops instead of retrying on.

    It trips when every base URL has failed to connect `streak` times in a row (no answer of any
    kind from it in between: a 429 or a 500 counts as an answer) and the sample asking has itself
    failed to connect on `streak` attempts in a row, so that backoff has given the servers a
    little time. One live replica among dead ones keeps it from tripping.
    """

    def __init__(self, base_urls: Sequence[str], streak: int) -> None:
        self.base_urls = list(base_urls)
        self.streak = max(streak, 1)
        self._failures_in_a_row = [0] * len(self.base_urls)
        self._causes: list[str] = [""] * len(self.base_urls)
        self.attempts = 0  # connection failures over the whole call

    def answered(self, replica: int) -> None:
        self._failures_in_a_row[replica] = 0

    def unreachable(self, replica: int, cause: str) -> None:
        self._failures_in_a_row[replica] += 1
        self._causes[replica] = cause
        self.attempts += 1

    def tripped(self, sample_streak: int) -> bool:
        return sample_streak >= self.streak and min(self._failures_in_a_row) >= self.streak

    def message(self, name: str) -> str:
        where = ", ".join(f"{_display(url)} ({cause})" for url, cause in zip(self.base_urls, self._causes))
        question = "is the server running" if len(self.base_urls) == 1 else "are the servers running"
        return f"{name}: could not connect to {where} after {self.attempts} attempts: {question}?"


class _RetryLog:
    """Counts retries per base URL and cause; logs them as one line every 30 s at most, and at the end."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._counts: Counter[tuple[str, str]] = Counter()
        self._since = time.monotonic()

    def record(self, base_url: str, failure: _RetryableFailure) -> None:
        self._counts[(_display(base_url), failure.cause)] += 1
        if time.monotonic() - self._since >= _RETRY_SUMMARY_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self._counts:
            by_url: dict[str, list[str]] = {}
            for (url, cause), count in self._counts.most_common():
                by_url.setdefault(url, []).append(f"{count} {cause}")
            parts = "; ".join(f"{url}: {', '.join(causes)}" for url, causes in by_url.items())
            logger.info("%s: retry summary, %d retries in the last %.1f s: %s.", self.name, sum(self._counts.values()),
                        time.monotonic() - self._since, parts)
        self._counts.clear()
        self._since = time.monotonic()


# -- small helpers -----------------------------------------------------------------------------


def _run_in_private_loop(make_coroutine: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine on a fresh event loop in its own thread and wait for it.

    Works whether or not the caller's thread already runs a loop. Ctrl-C in the caller cancels
    the work (and closes its connections) before re-raising.
    """
    outcome: dict[str, Any] = {}
    started = threading.Event()

    async def main() -> _T:
        outcome["loop"] = asyncio.get_running_loop()
        outcome["task"] = asyncio.current_task()
        started.set()
        return await make_coroutine()

    def worker() -> None:
        try:
            outcome["value"] = asyncio.run(main())
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=worker, name="lbt-openai-backend", daemon=True)
    thread.start()
    try:
        thread.join()
    except KeyboardInterrupt:
        started.wait()
        if "task" in outcome:
            outcome["loop"].call_soon_threadsafe(outcome["task"].cancel)
        thread.join()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _completion_tokens(usage: Any, text: str) -> int:
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        return usage["completion_tokens"]
    return len(text.split())


def _finish_reason(reason: Any) -> str:
    """OpenAI/vLLM say "length" when max_tokens cut the text; everything else counts as a stop."""
    return "length" if reason in ("length", "max_tokens") else "stop"


def _error_message(response: httpx.Response) -> str:
    """The human part of an error body: OpenAI/vLLM `{"error": {"message"}}`, FastAPI `detail`..."""
    try:
        payload = response.json()
    except ValueError:
        return response.text.strip()[:_MAX_QUOTED_MESSAGE] or response.reason_phrase
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:_MAX_QUOTED_MESSAGE]
        for key in ("message", "detail", "error"):
            if payload.get(key):
                return str(payload[key])[:_MAX_QUOTED_MESSAGE]
    return json.dumps(payload)[:_MAX_QUOTED_MESSAGE]


def _retry_after_s(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _connect_failure(exc: httpx.ConnectError) -> str:
    """Why a connection could not be made, in a few words: "connection refused", "unknown host"..."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"unknown host: {cause.strerror or cause}"
        if isinstance(cause, OSError) and cause.errno is not None and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _display(url: str) -> str:
    """A URL fit for messages: no user:password part."""
    return str(httpx.URL(url).copy_with(userinfo=b""))
