"""A `Backend` for OpenAI-compatible servers (OpenAI, Azure OpenAI, `vllm serve`), on the `openai` SDK.

One request per `Sample` (`n=1`, `seed=sample.seed`), so each sample is made and cached on its own.
The SDK builds requests, parses answers and retries (408/409/429, 5xx, timeouts, connection errors;
backoff, Retry-After). Its HTTP transport is ours (`lbt.engines.replicas`): it spreads the attempts
over `base_urls`, caps them at `max_concurrency`, reports retries, which are summarised in the log,
and ends the call with one sentence when no base URL can be reached at all. A private event loop in a
thread keeps `generate_samples` synchronous, even inside a running loop (Jupyter, papermill). The API
key (read from `api_key_env` only when something is to be generated) goes to the SDK client of one
call only, is scrubbed from quoted server messages, and is never in an error, log, repr or result.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
import openai
from tqdm import tqdm

from lbt.engines.base import Completion, Sample
from lbt.engines.config import OpenAIModel
from lbt.engines.replicas import (CONNECT_TIMEOUT_S, ReplicaRouter, Unreachable, attempt_number, display,
                                 retryable, server_message, transport_failure)

logger = logging.getLogger(__name__)
_THREAD = "lbt-openai-backend"  # the thread our requests run in
# httpx2 logs every request at INFO and the SDK every retry: from our thread, the retry summary replaces them.
for _name in ("httpx2", "openai._base_client"):
    logging.getLogger(_name).addFilter(lambda record: record.threadName != _THREAD or record.levelno > logging.INFO)

_T = TypeVar("_T")
_RETRY_SUMMARY_EVERY_S = 30.0
_BREAKER_STREAK = 3  # connection failures in a row, on every base URL and for the sample asking


class OpenAIBackendError(RuntimeError):
    """A request the server refused, or one that kept failing after every retry."""


class MissingAPIKeyError(OpenAIBackendError):
    """The environment variable that should hold the API key is unset or empty."""


class _Secret:
    """A string that never shows itself in a repr or str (tracebacks with locals, debuggers): it
    lives in a closure, not in an attribute."""

    __slots__ = ("reveal",)

    def __init__(self, value: str) -> None:
        self.reveal = lambda: value

    def scrub(self, text: str) -> str:
        return text.replace(self.reveal(), "<redacted>") if self.reveal() else text

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class OpenAIBackend:
    """Generates samples through an OpenAI-compatible completions / chat completions API."""

    def __init__(self, config: OpenAIModel, *, show_progress: bool = True) -> None:
        if config.api_type == "azure" and not config.api_version:
            raise ValueError(f"Model {config.name!r} uses api_type 'azure', which needs `api_version` (e.g. 2024-10-21).")
        self.config = config
        self.show_progress = show_progress

    @property
    def identity(self) -> str:
        prefix = "azure-openai" if self.config.api_type == "azure" else "openai"
        return f"{prefix}:{self.config.model}"

    def close(self) -> None:
        """Nothing to release: each `generate_samples` call opens and closes its own connections."""

    def __repr__(self) -> str:
        return (f"OpenAIBackend(model={self.config.model!r}, api_type={self.config.api_type!r}, "
                f"replicas={len(self.config.base_urls)}, max_concurrency={self.config.max_concurrency})")

    def generate_samples(self, samples: Sequence[Sample]) -> list[Completion]:
        """One completion per sample, in order; blocks until all are done."""
        pending = list(samples)
        return _run_in_private_loop(self._generate_all(pending, self._api_key())) if pending else []

    def _api_key(self) -> _Secret:
        env_name = self.config.api_key_env
        value = os.environ.get(env_name, "") if env_name else ""
        if env_name and not value:
            raise MissingAPIKeyError(
                f"Model {self.config.name!r} needs an API key in the environment variable {env_name}, "
                "which is not set (export it, or set api_key_env: null for a server without keys)."
            )
        return _Secret(value)

    def _client(self, key: str, retry_log: _RetryLog) -> openai.AsyncOpenAI:
        """The SDK client of one call: our retry budget and timeouts, the replica router as its transport."""
        config = self.config
        router = ReplicaRouter(config.name, config.base_urls, max_concurrency=config.max_concurrency,
                               max_retries=config.max_retries, timeout_s=config.timeout_s,
                               streak=min(_BREAKER_STREAK, config.max_retries + 1), on_retry=retry_log.record)
        timeout = httpx2.Timeout(config.timeout_s, connect=min(config.timeout_s, CONNECT_TIMEOUT_S))
        options: dict[str, Any] = dict(max_retries=config.max_retries, timeout=timeout,
                                       http_client=openai.DefaultAsyncHttpxClient(transport=router),
                                       api_key=key or "none")  # never None: the SDK would read its own variables
        if config.api_type == "azure":
            return openai.AsyncAzureOpenAI(azure_endpoint=config.base_urls[0], api_version=config.api_version, **options)
        return openai.AsyncOpenAI(base_url=config.base_urls[0], **options)

    async def _generate_all(self, samples: list[Sample], secret: _Secret) -> list[Completion]:
        retry_log = _RetryLog(self.config.name, secret)
        # Without a key, every request tells the SDK that leaving out the key header is meant.
        headers = None if secret.reveal() else {"api-key" if self.config.api_type == "azure" else "Authorization": openai.omit}
        desc = f"{self.config.name} ({self.identity})"
        with tqdm(total=len(samples), desc=desc, unit="sample", disable=not self.show_progress) as bar:
            async with self._client(secret.reveal(), retry_log) as client:
                run = _Run(client, headers, secret, bar, retry_log)
                tasks = [asyncio.create_task(self._generate_one(run, sample)) for sample in samples]
                try:
                    return list(await asyncio.gather(*tasks))
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
                finally:
                    retry_log.flush()

    async def _generate_one(self, run: _Run, sample: Sample) -> Completion:
        chat = sample.request.messages is not None
        what = f"{self.config.name}: {'chat/completions' if chat else 'completions'} request (seed {sample.seed})"
        try:
            response = await self._create(run, sample)
        except Unreachable as exc:
            raise OpenAIBackendError(str(exc)) from None
        except openai.APIError as exc:
            raise OpenAIBackendError(run.secret.scrub(_failure(what, exc, self.config))) from None
        try:
            choice = response.choices[0]
            text = (choice.message.content if chat else choice.text) or ""
        except (AttributeError, IndexError, TypeError):
            raise OpenAIBackendError(f"{what}: the server answered 200 but not with OpenAI-style JSON "
                                     "(check base_urls and api_type).") from None
        run.bar.update(1)
        if run.retry_log.total:
            run.bar.set_postfix(retries=run.retry_log.total, refresh=False)
        usage = getattr(response, "usage", None)
        n_tokens = usage.completion_tokens if usage and isinstance(usage.completion_tokens, int) else len(text.split())
        finish = "length" if choice.finish_reason in ("length", "max_tokens") else "stop"
        return Completion(text=text, n_tokens=n_tokens, finish_reason=finish)

    def _create(self, run: _Run, sample: Sample) -> Coroutine[Any, Any, Any]:
        request = sample.request
        options: dict[str, Any] = dict(
            model=self.config.model, n=1, seed=sample.seed, temperature=request.temperature, top_p=request.top_p,
            max_tokens=request.max_tokens, stop=list(request.stop) if request.stop else openai.omit,
            extra_body={"top_k": request.top_k} if request.top_k > 0 else None,  # a vLLM extension
            extra_headers=run.headers,
        )
        if request.messages is None:
            return run.client.completions.create(prompt=request.prompt, **options)
        messages = [{"role": role, "content": content} for role, content in request.messages]
        return run.client.chat.completions.create(messages=messages, **options)


@dataclass
class _Run:
    """What the requests of one `generate_samples` call share."""

    client: openai.AsyncOpenAI
    headers: dict[str, Any] | None  # extra headers for every request
    secret: _Secret
    bar: Any
    retry_log: _RetryLog


class _RetryLog:
    """Counts retries per base URL and cause; logs them as one line every 30 s at most, and at the end."""

    def __init__(self, name: str, secret: _Secret) -> None:
        self.name, self.secret, self.total = name, secret, 0
        self._counts: Counter[tuple[str, str]] = Counter()
        self._since = time.monotonic()

    def record(self, base_url: str, cause: str) -> None:
        self.total += 1
        self._counts[(base_url, self.secret.scrub(cause))] += 1
        if time.monotonic() - self._since >= _RETRY_SUMMARY_EVERY_S:
            self.flush()

    def flush(self) -> None:
        by_url: dict[str, list[str]] = {}
        for (url, cause), count in self._counts.most_common():
            by_url.setdefault(url, []).append(f"{count} {cause}")
        if by_url:
            parts = "; ".join(f"{url}: {', '.join(causes)}" for url, causes in by_url.items())
            logger.info("%s: retry summary, %d retries in the last %.1f s: %s.", self.name,
                        sum(self._counts.values()), time.monotonic() - self._since, parts)
        self._counts.clear()
        self._since = time.monotonic()


# -- small helpers -----------------------------------------------------------------------------


def _run_in_private_loop(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Runs a coroutine on a fresh event loop in its own thread and waits for it, whether or not the
    caller's thread runs a loop. Ctrl-C in the caller cancels the work (closing its connections)."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(coroutine)
    thread = threading.Thread(target=loop.run_until_complete, args=(asyncio.wait([task]),), name=_THREAD,
                              daemon=True)
    thread.start()
    try:
        thread.join()
    except KeyboardInterrupt:
        loop.call_soon_threadsafe(task.cancel)
        thread.join()
        raise
    finally:
        loop.close()
    return task.result()


def _failure(what: str, exc: openai.APIError, config: OpenAIModel) -> str:
    """One sentence for a request the server refused, or one the SDK gave up on after its retries."""
    url = display(str(exc.request.url))
    if isinstance(exc, openai.APIStatusError):
        last = f"HTTP {exc.status_code} from {url}: {server_message(exc.body)}"
        if not retryable(exc.status_code):
            hint = " (check base_urls: OpenAI-style ones usually end in /v1)" if exc.status_code == 404 else ""
            return f"{what} was refused: {last}{hint}"
    else:
        last = f"{url}: {transport_failure(exc.__cause__, config.timeout_s)[0]}"
    return f"{what} failed {attempt_number(exc.request)} times (max_retries={config.max_retries}); last error: {last}."
