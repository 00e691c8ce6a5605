"""OpenAIBackend against a local fake OpenAI-compatible server (see openai_fake_server.py)."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lbt.engines.engine import Engine
from lbt.engines.base import Completion, GenerationRequest, Sample
from lbt.engines.config import OpenAIModel
from lbt.engines.openai import MissingAPIKeyError, OpenAIBackend, OpenAIBackendError
from openai_fake_server import Arrival, Fault, FakeOpenAIServer, InFlightGauge, fake_generation

pytestmark = pytest.mark.timeout(60)

KEY_ENV = "LBT_TEST_OPENAI_KEY"
PLANTED_KEY = "sk-test-PLANTED-0123456789abcdefXYZ"

ServerFactory = Callable[..., FakeOpenAIServer]


@pytest.fixture(autouse=True)
def planted_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, PLANTED_KEY)
    return PLANTED_KEY


@pytest.fixture
def start_server() -> Iterator[ServerFactory]:
    """Starts fake servers (expecting the planted key unless told otherwise); stops them after."""
    started: list[FakeOpenAIServer] = []

    def start(**options: Any) -> FakeOpenAIServer:
        options.setdefault("api_key", PLANTED_KEY)
        server = FakeOpenAIServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def make_backend(base_urls: list[str], **overrides: Any) -> OpenAIBackend:
    settings: dict[str, Any] = {
        "name": "fake",
        "model": "fake-model",
        "base_urls": base_urls,
        "api_key_env": KEY_ENV,
        "timeout_s": 5.0,
        "max_retries": 3,
        "max_concurrency": 8,
    }
    settings.update(overrides)
    return OpenAIBackend(OpenAIModel(**settings), show_progress=False)


def prompt_samples(count: int, **request_fields: Any) -> list[Sample]:
    request = GenerationRequest(prompt="Solve 2+2.", n=count, seed=7, **request_fields)
    return request.samples()


def expected_completion(body: dict[str, Any]) -> Completion:
    text, n_tokens, finish = fake_generation(body)
    return Completion(text=text, n_tokens=n_tokens, finish_reason=finish)


def bodies_by_seed(server: FakeOpenAIServer) -> dict[int, dict[str, Any]]:
    return {r.body["seed"]: r.body for r in server.successes()}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


# -- requests and answers ----------------------------------------------------------------------


def test_completions_send_one_seeded_request_per_sample(start_server: ServerFactory) -> None:
    server = start_server()
    samples = prompt_samples(5, temperature=0.7, top_p=0.9, max_tokens=64, stop=("\n\n",))

    completions = make_backend([server.v1_url]).generate_samples(samples)

    requests = server.requests
    assert len(requests) == 5
    assert {r.path for r in requests} == {"/v1/completions"}
    assert {r.headers["authorization"] for r in requests} == {f"Bearer {PLANTED_KEY}"}
    bodies = bodies_by_seed(server)
    assert sorted(bodies) == sorted(s.seed for s in samples)
    for body in bodies.values():
        assert body["n"] == 1 and body["model"] == "fake-model" and body["prompt"] == "Solve 2+2."
        assert (body["temperature"], body["top_p"], body["max_tokens"], body["stop"]) == (0.7, 0.9, 64, ["\n\n"])
        assert "top_k" not in body
    assert completions == [expected_completion(bodies[s.seed]) for s in samples]
    assert len({c.text for c in completions}) == 5  # different seeds, different samples


def test_chat_sends_messages_top_k_and_greedy(start_server: ServerFactory) -> None:
    server = start_server()
    messages = (("system", "Be brief."), ("user", "Name a prime."))
    samples = GenerationRequest(messages=messages, n=2, temperature=0.0, top_k=20, seed=3).samples()

    completions = make_backend([server.v1_url]).generate_samples(samples)

    assert {r.path for r in server.requests} == {"/v1/chat/completions"}
    body = server.requests[0].body
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a prime."}]
    assert body["top_k"] == 20 and body["temperature"] == 0.0
    assert completions[0] == completions[1] == expected_completion(body)  # greedy: seed-independent


def test_finish_reason_and_token_count_fallback(start_server: ServerFactory) -> None:
    with_usage, without_usage = start_server(), start_server(include_usage=False)
    samples = prompt_samples(2, max_tokens=2)

    cut = make_backend([with_usage.v1_url]).generate_samples(samples)
    counted = make_backend([without_usage.v1_url]).generate_samples(samples)

    assert [c.finish_reason for c in cut] == ["length", "length"]
    assert [c.n_tokens for c in cut] == [2, 2]
    assert counted == cut  # n_tokens from whitespace when the server sends no usage


def test_empty_input_needs_no_server_and_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    assert make_backend([closed_port_url()]).generate_samples([]) == []


# -- faults, retries and replicas --------------------------------------------------------------


def flaky_plan(arrival: Arrival) -> Fault | None:
    """First attempt of every sample fails one of four ways; some second attempts fail too."""
    if arrival.attempt == 0:
        faults = [
            Fault(status=429, message="Rate limit reached.", retry_after="0"),
            Fault(status=500, message="Internal error."),
            Fault(delay_s=1.5),  # stalls past the client's 0.5 s timeout
            Fault(disconnect=True),
        ]
        return faults[arrival.body["seed"] % 4]
    if arrival.attempt == 1 and arrival.body["seed"] % 3 == 0:
        return Fault(status=503, message="Overloaded.")
    return None


def test_faults_lose_nothing_and_generate_nothing_twice(start_server: ServerFactory) -> None:
    server = start_server(fault_plan=flaky_plan)
    samples = prompt_samples(16)

    completions = make_backend([server.v1_url], timeout_s=0.5, max_retries=3).generate_samples(samples)

    successes = Counter(r.body["seed"] for r in server.successes())
    assert successes == Counter(s.seed for s in samples)  # exactly one success per sample
    outcomes = Counter(r.outcome for r in server.requests)
    assert {"429", "500", "503", "slow", "disconnect"} <= set(outcomes)
    bodies = bodies_by_seed(server)
    assert completions == [expected_completion(bodies[s.seed]) for s in samples]


def test_retry_after_is_honoured(start_server: ServerFactory) -> None:
    server = start_server(fault_plan=lambda a: Fault(status=429, retry_after="0.4") if a.attempt == 0 else None)

    make_backend([server.v1_url]).generate_samples(prompt_samples(1))

    first, second = server.requests
    assert second.started_at - first.started_at >= 0.35


def test_gives_up_after_max_retries_with_the_last_error(start_server: ServerFactory) -> None:
    server = start_server(fault_plan=lambda a: Fault(status=503, message="Model is loading."))

    with pytest.raises(OpenAIBackendError, match=r"failed 3 times.*HTTP 503.*Model is loading"):
        make_backend([server.v1_url], max_retries=2).generate_samples(prompt_samples(1))

    assert len(server.requests) == 3


def test_requests_are_spread_over_base_urls(start_server: ServerFactory) -> None:
    servers = [start_server(response_delay_s=0.02) for _ in range(3)]
    samples = prompt_samples(30)

    completions = make_backend([s.v1_url for s in servers], max_concurrency=6).generate_samples(samples)

    shares = [len(s.successes()) for s in servers]
    assert sum(shares) == 30 and min(shares) >= 5, shares
    bodies = {seed: body for s in servers for seed, body in bodies_by_seed(s).items()}
    assert completions == [expected_completion(bodies[s.seed]) for s in samples]


def test_a_dead_replica_is_routed_around(start_server: ServerFactory) -> None:
    server = start_server()
    samples = prompt_samples(10)

    completions = make_backend([closed_port_url(), server.v1_url], max_retries=2).generate_samples(samples)

    assert len(completions) == 10
    assert Counter(r.body["seed"] for r in server.successes()) == Counter(s.seed for s in samples)


def test_concurrency_limit_holds_over_all_replicas(start_server: ServerFactory) -> None:
    gauge = InFlightGauge()
    servers = [start_server(gauge=gauge, response_delay_s=0.1) for _ in range(2)]

    make_backend([s.v1_url for s in servers], max_concurrency=3).generate_samples(prompt_samples(18))

    assert gauge.peak == 3


# -- errors ------------------------------------------------------------------------------------


def test_timeouts_give_up_after_max_retries_in_one_sentence(start_server: ServerFactory) -> None:
    server = start_server(fault_plan=lambda a: Fault(delay_s=1.0))

    with pytest.raises(OpenAIBackendError) as caught:
        make_backend([server.v1_url], timeout_s=0.3, max_retries=1).generate_samples(prompt_samples(1))

    assert str(caught.value) == (f"fake: completions request (seed {prompt_samples(1)[0].seed}) failed 2 times "
                                 f"(max_retries=1); last error: {server.v1_url}/completions: no answer within 0.3 s.")
    assert len(server.requests) == 2


@pytest.mark.parametrize("answer", [{"status": "ok"}, "<html>Welcome to nginx!</html>"])
def test_an_answer_that_is_not_openai_json_is_named(start_server: ServerFactory, answer: object) -> None:
    server = start_server(answer_body=answer)

    with pytest.raises(OpenAIBackendError, match=r"answered 200 but not with OpenAI-style JSON \(check base_urls"):
        make_backend([server.v1_url]).generate_samples(prompt_samples(1))

    assert len(server.requests) == 1


def test_a_non_retryable_error_stops_with_the_servers_message(start_server: ServerFactory) -> None:
    refuse = Fault(status=400, message="max_tokens is too large: 99999.")
    server = start_server(fault_plan=lambda a: refuse)

    with pytest.raises(OpenAIBackendError, match=r"refused: HTTP 400 .*max_tokens is too large: 99999"):
        make_backend([server.v1_url]).generate_samples(prompt_samples(1, max_tokens=99999))

    assert len(server.requests) == 1  # not retried


def test_missing_key_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)

    with pytest.raises(MissingAPIKeyError, match=KEY_ENV) as caught:
        make_backend([closed_port_url()]).generate_samples(prompt_samples(1))

    assert str(caught.value).count(".") == 1 and str(caught.value).endswith(".")


@pytest.mark.parametrize("api_type", ["openai", "azure"])
def test_no_key_variable_means_no_key_sent(start_server: ServerFactory, monkeypatch: pytest.MonkeyPatch,
                                           api_type: str) -> None:
    """Not even the key in the variables the SDK would read by itself."""
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED_KEY)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", PLANTED_KEY)
    server = start_server(api_key=None)
    azure = {"api_type": "azure", "api_version": "2024-10-21"} if api_type == "azure" else {}

    completions = make_backend([server.url if azure else server.v1_url], api_key_env=None, **azure).generate_samples(
        prompt_samples(2))

    assert len(completions) == 2 and len(server.requests) == 2
    assert all("authorization" not in r.headers and "api-key" not in r.headers for r in server.requests)
    assert all(PLANTED_KEY not in str(r.headers) for r in server.requests)


def test_the_key_never_leaks(start_server: ServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    flaky = start_server(fault_plan=lambda a: Fault(status=429, retry_after="0") if a.attempt == 0 else None)
    wrong_key = start_server(api_key="sk-some-other-key", echo_key_in_auth_errors=True)
    backend = make_backend([flaky.v1_url])

    completions = backend.generate_samples(prompt_samples(3))
    with pytest.raises(OpenAIBackendError) as refused:
        make_backend([wrong_key.v1_url]).generate_samples(prompt_samples(1))

    assert "401" in str(refused.value) and "Incorrect API key" in str(refused.value)
    assert PLANTED_KEY in wrong_key.requests[0].headers["authorization"]  # the server did see it
    exposed = [
        str(refused.value),
        repr(refused.value),
        "".join(traceback.format_exception(refused.value)),
        caplog.text,
        *(record.getMessage() for record in caplog.records),
        repr(backend),
        repr(backend.config),
        backend.identity,
        repr(completions),
    ]
    assert any("retry" in record.getMessage() for record in caplog.records)
    for text in exposed:
        assert PLANTED_KEY not in text and "PLANTED" not in text


# -- Azure and event loops ---------------------------------------------------------------------


def test_azure_paths_query_and_key_header(start_server: ServerFactory) -> None:
    server = start_server()
    backend = make_backend([server.url], api_type="azure", api_version="2024-10-21", model="my-deployment")
    samples = [*prompt_samples(1), *GenerationRequest(messages=(("user", "Hi"),), seed=1).samples()]

    completions = backend.generate_samples(samples)

    paths = sorted(r.path for r in server.requests)
    assert paths == [
        "/openai/deployments/my-deployment/chat/completions",
        "/openai/deployments/my-deployment/completions",
    ]
    for request in server.requests:
        assert request.query == {"api-version": "2024-10-21"}
        assert request.headers["api-key"] == PLANTED_KEY and "authorization" not in request.headers
    assert len(completions) == 2 and backend.identity == "azure-openai:my-deployment"


def test_azure_needs_an_api_version() -> None:
    with pytest.raises(ValueError, match="api_version"):
        make_backend(["http://127.0.0.1:1"], api_type="azure")


def test_works_inside_a_running_event_loop(start_server: ServerFactory) -> None:
    server = start_server()
    backend = make_backend([server.v1_url])
    samples = prompt_samples(3)

    async def notebook_cell() -> list[Completion]:
        return backend.generate_samples(samples)  # a sync call made while a loop is running

    completions = asyncio.run(notebook_cell())

    bodies = bodies_by_seed(server)
    assert completions == [expected_completion(bodies[s.seed]) for s in samples]
    assert backend.identity == "openai:fake-model"


# -- dead endpoints: a circuit breaker and a short log -----------------------------------------


def test_a_closed_port_fails_fast_in_one_sentence(caplog: pytest.LogCaptureFixture) -> None:
    """256 samples against nothing, with the real backoff (1 s base) and max_retries (6)."""
    caplog.set_level(logging.INFO)
    url = closed_port_url()
    backend = OpenAIBackend(OpenAIModel(name="dead", model="m", base_urls=[url], api_key_env=KEY_ENV),
                            show_progress=False)
    engine = Engine(backend, None, "dead")
    requests = [GenerationRequest(prompt=f"Question {i}.", n=8, seed=i) for i in range(32)]

    started = time.monotonic()
    with pytest.raises(OpenAIBackendError) as caught:
        engine.generate(requests)
    elapsed = time.monotonic() - started

    message = str(caught.value)
    assert re.fullmatch(
        rf"dead: could not connect to {re.escape(url)} \(connection refused\) after \d+ attempts: "
        r"is the server running\?", message), message
    assert elapsed < 10, elapsed
    assert len(caplog.records) < 10, [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # the exception is the one error line
    assert len(caplog.text) < 2000


def test_a_server_that_comes_up_a_moment_late_is_waited_for(start_server: ServerFactory) -> None:
    """Every first attempt is refused, but the breaker waits for a sample's third attempt (backoff)."""
    url = closed_port_url()
    port = int(url.split(":")[2].split("/")[0])
    late = threading.Timer(0.3, lambda: start_server(port=port))
    late.start()

    completions = make_backend([url]).generate_samples(prompt_samples(20))

    late.join()
    assert len(completions) == 20


def test_every_dead_base_url_is_named(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    urls = [closed_port_url(), "http://lbt-no-such-host.invalid/v1"]

    with pytest.raises(OpenAIBackendError) as caught:
        make_backend(urls, max_retries=6).generate_samples(prompt_samples(40))

    message = str(caught.value)
    assert f"could not connect to {urls[0]} (connection refused), {urls[1]} (unknown host" in message
    assert message.endswith("are the servers running?")
    assert len(caplog.records) < 5


def test_retries_are_summarised_not_logged_per_sample(start_server: ServerFactory,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # every logger: no line per request or per retry from httpx2 or the SDK either
    server = start_server(fault_plan=lambda a: Fault(status=429, message="Slow down.", retry_after="0")
                          if a.attempt < 2 else None)

    completions = make_backend([server.v1_url]).generate_samples(prompt_samples(50))

    assert len(completions) == 50 and len(server.requests) == 150
    assert [r.name for r in caplog.records] == ["lbt.engines.openai"]
    [summary] = [r.getMessage() for r in caplog.records]
    assert summary.startswith("fake: retry summary, 100 retries in the last")
    assert f"{server.v1_url}: 100 HTTP 429 (Slow down.)" in summary


def test_a_server_that_answers_errors_never_trips_the_breaker(start_server: ServerFactory) -> None:
    """Three 503s then success, on the only replica: slow, but it is up, so every sample gets done."""
    server = start_server(fault_plan=lambda a: Fault(status=503, message="Loading.") if a.attempt < 3 else None)

    completions = make_backend([server.v1_url], max_retries=6).generate_samples(prompt_samples(20))

    assert len(completions) == 20 and len(server.successes()) == 20
