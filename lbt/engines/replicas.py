"""An HTTP transport for the `openai` SDK's client that spreads its attempts over several base URLs.

The SDK retries a failed request by sending it again through its client's transport; this one sees
every such attempt. It sends each to the base URL with the fewest attempts in flight (ties: round
robin), skipping for a few seconds one that refused a connection while another is up; holds all of
them to `max_concurrency` in flight; reports each failure the SDK will retry (`on_retry(url, cause)`),
and trips a circuit breaker when no base URL can be reached at all: it then raises `Unreachable`,
which, being an `openai.OpenAIError`, the SDK passes on without retrying.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Sequence

import httpx2
import openai

CONNECT_TIMEOUT_S = 5.0  # as the SDK's default: a host that never answers is noticed soon
_SKIP_REFUSING_URL_S = 5.0  # a base URL that refused a connection gets no attempts this long, if another is up
_MAX_QUOTED_MESSAGE = 500


class Unreachable(openai.OpenAIError):
    """No base URL accepted a connection: the breaker tripped (its message is the one sentence)."""


class ReplicaRouter(httpx2.AsyncBaseTransport):
    """Routes the attempts of one SDK client over `base_urls`; the SDK must be given `base_urls[0]`.

    The breaker trips when every base URL has failed to connect `streak` times in a row (any HTTP
    answer, even a 500, resets its count) and the sample asking is on its `streak`-th attempt, so
    that backoff has given the servers a little time.
    """

    def __init__(self, name: str, base_urls: Sequence[str], *, max_concurrency: int, max_retries: int,
                 timeout_s: float, streak: int, on_retry: Callable[[str, str], None]) -> None:
        self.name, self.on_retry = name, on_retry
        self.urls = [str(httpx2.URL(url)).rstrip("/") for url in base_urls]
        self.shown = [display(url) for url in base_urls]
        self.max_retries, self.timeout_s, self.streak = max_retries, timeout_s, max(streak, 1)
        limits = httpx2.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
        self._inner = httpx2.AsyncHTTPTransport(limits=limits)
        self._slots = asyncio.Semaphore(max_concurrency)
        count = len(self.urls)
        self._in_flight, self._skip_until, self._next = [0] * count, [0.0] * count, 0
        self._refused_in_a_row, self._causes, self._refusals = [0] * count, [""] * count, 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        attempt = attempt_number(request)
        async with self._slots:
            index = self._route(request)
            try:
                response = await self._inner.handle_async_request(request)
                await response.aread()
            except httpx2.TransportError as exc:
                self._failed(index, exc, attempt)
                raise
            finally:
                self._in_flight[index] -= 1
        self._refused_in_a_row[index], self._skip_until[index] = 0, 0.0
        if retryable(response.status_code) and attempt <= self.max_retries:
            message = server_message(_body(response))
            self.on_retry(self.shown[index], f"HTTP {response.status_code} ({_shorten(message)})")
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _route(self, request: httpx2.Request) -> int:
        count, now = len(self.urls), time.monotonic()
        order = [(self._next + k) % count for k in range(count)]
        index = min([i for i in order if self._skip_until[i] <= now] or order, key=lambda i: self._in_flight[i])
        self._next, self._in_flight[index] = (index + 1) % count, self._in_flight[index] + 1
        url = str(request.url)
        if index and url.startswith(self.urls[0]):
            request.url = httpx2.URL(self.urls[index] + url[len(self.urls[0]):])
            request.headers["Host"] = request.url.netloc.decode("ascii")
        return index

    def _failed(self, index: int, exc: httpx2.TransportError, attempt: int) -> None:
        cause, unreachable = transport_failure(exc, self.timeout_s)
        if not unreachable:
            self._refused_in_a_row[index] = 0  # it was reached: a timeout or a dropped connection
        else:
            self._skip_until[index] = time.monotonic() + _SKIP_REFUSING_URL_S
            self._refused_in_a_row[index] += 1
            self._causes[index] = cause
            self._refusals += 1
            if attempt >= self.streak and min(self._refused_in_a_row) >= self.streak:
                raise Unreachable(self._trip_message()) from None
        if attempt <= self.max_retries:
            self.on_retry(self.shown[index], cause)

    def _trip_message(self) -> str:
        where = ", ".join(f"{url} ({cause})" for url, cause in zip(self.shown, self._causes))
        question = "is the server running" if len(self.urls) == 1 else "are the servers running"
        return f"{self.name}: could not connect to {where} after {self._refusals} attempts: {question}?"


def attempt_number(request: httpx2.Request) -> int:
    """1 for a request's first attempt, 2 for its first retry...: the SDK numbers them in a header."""
    return int(request.headers.get("x-stainless-retry-count", "0")) + 1


def retryable(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500  # as the SDK: timeout, conflict, rate limit, server


def server_message(body: object) -> str:
    """The human part of an error body: OpenAI/vLLM `{"error": {"message"}}`, FastAPI `detail`..."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if isinstance(body, dict):
        body = next((body[key] for key in ("message", "detail", "error") if body.get(key)), body)
    return " ".join(str(body).split())[:_MAX_QUOTED_MESSAGE] or "no message"


def transport_failure(exc: BaseException | None, timeout_s: float) -> tuple[str, bool]:
    """(what went wrong in a few words, whether no connection was made at all) for an httpx2 error."""
    if isinstance(exc, httpx2.ConnectTimeout):
        return f"connect timed out after {min(timeout_s, CONNECT_TIMEOUT_S):g} s", True
    if isinstance(exc, httpx2.TimeoutException):
        return f"no answer within {timeout_s:g} s", False
    if isinstance(exc, httpx2.ConnectError):
        return _connect_failure(exc), True
    return f"connection error ({type(exc).__name__})", False


def display(url: str) -> str:
    """A URL fit for messages: no user:password part, no query."""
    return str(httpx2.URL(url).copy_with(userinfo=b"", query=None))


def _connect_failure(exc: BaseException | None) -> str:
    """Why no connection was made, in a few words: "connection refused", "unknown host: ..."."""
    for _ in range(8):  # the chain is short: httpx2, httpcore2, asyncio's OSError, the socket's error
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"  # its strerror names the address, not the cause
        if isinstance(exc, socket.gaierror):
            return f"unknown host: {exc.strerror or exc}"
        if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
            return exc.strerror.lower()
        exc = exc and (exc.__cause__ or exc.__context__)
    return "could not connect"


def _body(response: httpx2.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
