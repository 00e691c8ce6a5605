"""A local, fake OpenAI-compatible HTTP server: a test double standing in for a remote API.

It serves `/v1/completions`, `/v1/chat/completions` and the Azure style
`/openai/deployments/{name}/[chat/]completions?api-version=...` on 127.0.0.1 (an ephemeral port,
in a background thread). Its "generations" are deterministic text derived from the request
(model, prompt or messages, seed; greedy requests ignore the seed), so a test can predict every
answer with `fake_generation`. It checks the API key header, records every request it served
with its outcome, tracks how many requests were in flight at once, and can be told to fail
chosen requests: HTTP errors (429 with Retry-After, 500, 400...), stalls longer than the client's
timeout, or dropped connections. Nothing here talks to a real model or the network.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_AZURE_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<endpoint>chat/completions|completions)$")
_OPENAI_PATH = re.compile(r"^/v1/(?P<endpoint>chat/completions|completions)$")


@dataclass(frozen=True)
class Fault:
    """How to mistreat one request. `status` None with `delay_s` means: stall, then answer 200."""

    status: int | None = None
    message: str = "injected fault"
    retry_after: str | None = None  # Retry-After header value sent with the error
    delay_s: float = 0.0  # wait this long first (longer than the client timeout: a timeout)
    disconnect: bool = False  # close the connection without any response

    @property
    def outcome(self) -> str:
        if self.disconnect:
            return "disconnect"
        if self.status is not None:
            return str(self.status)
        return "slow"


@dataclass(frozen=True)
class Arrival:
    """What a fault plan sees: the request, and how many identical ones came before it."""

    endpoint: str  # "completions" or "chat/completions"
    body: dict[str, Any]
    attempt: int  # 0 the first time this exact body arrives, 1 the second time...
    index: int  # arrival order over the whole server, from 0


FaultPlan = Callable[[Arrival], Fault | None]


@dataclass
class ServedRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]
    endpoint: str
    deployment: str | None
    attempt: int
    started_at: float
    outcome: str = "pending"  # "ok", an HTTP status such as "429", "slow" or "disconnect"
    finished_at: float | None = None


@dataclass
class InFlightGauge:
    """Counts requests being handled right now; share one between servers for a global view."""

    current: int = 0
    peak: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def enter(self) -> None:
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)

    def leave(self) -> None:
        with self._lock:
            self.current -= 1


def fake_generation(body: dict[str, Any]) -> tuple[str, int, str]:
    """(text, completion_tokens, finish_reason) the fake server answers to a request body."""
    content = body["prompt"] if "prompt" in body else json.dumps(body["messages"], sort_keys=True)
    greedy = float(body.get("temperature", 1.0)) == 0.0
    seed = "greedy" if greedy else body.get("seed")
    digest = hashlib.sha256(f"{body.get('model')}\x1f{content}\x1f{seed}".encode()).hexdigest()
    words = [f"w{digest[i:i + 4]}" for i in range(2, 2 + 4 * (4 + int(digest[:2], 16) % 5), 4)]
    finish = "stop"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens < len(words):
        words, finish = words[:max_tokens], "length"
    text = " ".join(words)
    for stop in body.get("stop") or []:
        if stop in text:
            text, finish = text[: text.index(stop)], "stop"
    return text, len(text.split()), finish


class FakeOpenAIServer:
    """Start with `start()` (or `with`), point a client at `v1_url` (OpenAI style) or `url` (Azure)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        fault_plan: FaultPlan | None = None,
        response_delay_s: float = 0.0,
        include_usage: bool = True,
        gauge: InFlightGauge | None = None,
        echo_key_in_auth_errors: bool = False,
        text_for: Callable[[dict[str, Any]], str] | None = None,
        answer_body: object = None,
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.fault_plan = fault_plan
        self.response_delay_s = response_delay_s
        self.include_usage = include_usage
        self.gauge = gauge or InFlightGauge()
        self.echo_key_in_auth_errors = echo_key_in_auth_errors
        self.text_for = text_for  # answers in a task's format instead of `fake_generation`'s words
        self.port = port  # 0: any free port
        self.answer_body = answer_body  # answers 200 with this instead (a dict as JSON, a str as HTML): not the API
        self._log: list[ServedRequest] = []
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        handler = type("BoundHandler", (_Handler,), {"fake": self})
        self._httpd = _QuietHTTPServer(("127.0.0.1", self.port), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def v1_url(self) -> str:
        return self.url + "/v1"

    # -- what happened -----------------------------------------------------------------------

    @property
    def requests(self) -> list[ServedRequest]:
        with self._lock:
            return list(self._log)

    def successes(self) -> list[ServedRequest]:
        return [r for r in self.requests if r.outcome == "ok"]

    # -- used by the handler -----------------------------------------------------------------

    def _register(self, request: ServedRequest) -> Arrival:
        key = json.dumps([request.endpoint, request.deployment, request.body], sort_keys=True)
        with self._lock:
            request.attempt = self._seen[key]
            self._seen[key] += 1
            index = len(self._log)
            self._log.append(request)
        return Arrival(request.endpoint, request.body, request.attempt, index)

    def _finish(self, request: ServedRequest, outcome: str) -> None:
        with self._lock:
            request.outcome = outcome
            request.finished_at = time.monotonic()


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or give up reset their connections; that is expected here


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        self.fake.gauge.enter()
        try:
            self._serve()
        finally:
            self.fake.gauge.leave()

    def _serve(self) -> None:
        split = urlsplit(self.path)
        body = self._read_json()
        azure, openai = _AZURE_PATH.match(split.path), _OPENAI_PATH.match(split.path)
        match = azure or openai
        request = ServedRequest(
            path=split.path,
            query={k: v[0] for k, v in parse_qs(split.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body if isinstance(body, dict) else {},
            endpoint=match["endpoint"] if match else "",
            deployment=azure["deployment"] if azure else None,
            attempt=0,
            started_at=time.monotonic(),
        )
        arrival = self.fake._register(request)
        if match is None:
            return self._error(request, 404, "Unknown path.")
        if not isinstance(body, dict):
            return self._error(request, 400, "The body is not a JSON object.")
        if azure and "api-version" not in request.query:
            return self._error(request, 404, "Resource not found (missing api-version).")
        if not self._authorized(request, bool(azure)):
            return
        fault = self.fake.fault_plan(arrival) if self.fake.fault_plan else None
        if fault is not None:
            return self._inject(request, fault)
        if self.fake.response_delay_s:
            self.fake._stopping.wait(self.fake.response_delay_s)
        self.fake._finish(request, "ok")  # before sending: the client may look at the log at once
        if isinstance(self.fake.answer_body, str):
            return self._send(200, self.fake.answer_body.encode(), "text/html")
        self._send_json(200, self.fake.answer_body or self._generation(request))

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def _authorized(self, request: ServedRequest, azure: bool) -> bool:
        expected = self.fake.api_key
        if expected is None:
            return True
        if azure:
            given = request.headers.get("api-key")
        else:
            auth = request.headers.get("authorization", "")
            given = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if given == expected:
            return True
        shown = given if self.fake.echo_key_in_auth_errors else "***"
        self._error(request, 401, f"Incorrect API key provided: {shown}.", code="invalid_api_key")
        return False

    def _inject(self, request: ServedRequest, fault: Fault) -> None:
        if fault.status is None and not fault.disconnect:
            self.fake._finish(request, fault.outcome)  # a stall: logged at once, answered too late
        if fault.delay_s:
            self.fake._stopping.wait(fault.delay_s)
        if fault.disconnect:
            self.fake._finish(request, fault.outcome)
            self.close_connection = True
            return
        if fault.status is None:
            self._send_json(200, self._generation(request))
            return
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        self._error(request, fault.status, fault.message, headers=headers)

    def _generation(self, request: ServedRequest) -> dict[str, Any]:
        text, n_tokens, finish = fake_generation(request.body)
        if self.fake.text_for is not None:
            text = self.fake.text_for(request.body)
            n_tokens, finish = len(text.split()), "stop"
        chat = request.endpoint == "chat/completions"
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        payload: dict[str, Any] = {
            "id": f"fake-{request.attempt}-{time.monotonic_ns()}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": request.body.get("model"),
            "choices": [choice],
        }
        if self.fake.include_usage:
            payload["usage"] = {"prompt_tokens": 1, "completion_tokens": n_tokens, "total_tokens": 1 + n_tokens}
        return payload

    def _error(
        self,
        request: ServedRequest,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": "fake_error", "param": None, "code": code}
        self.fake._finish(request, str(status))
        self._send_json(status, {"error": error}, headers)

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timed out) first
