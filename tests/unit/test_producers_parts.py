"""Settings, API keys, the HTTP transport's retries and the Producer under concurrency."""

from __future__ import annotations

import email.message
import io
import random
import threading
import urllib.error
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError, ParamValidationError
from botocore.stub import Stubber

from producers import (
    HttpTransport,
    Producer,
    ProducerClosed,
    ProducerSettings,
    RetryPolicy,
    SendFailed,
    SendStats,
    Timing,
)
from producers.auth import ApiKeys, KeysUnavailable
from producers.packing import Item, pack, to_item
from producers.retry import is_retryable
from tests.support.fakes import FakeClock

STATUS = {"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": "2026-12-23T18:04:05Z"}


def test_settings_read_the_environment_and_explicit_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NICELIST_API_KEYS", " a, b ,,c ")
    monkeypatch.setenv("NICELIST_STAGE", "prod")
    monkeypatch.setenv("NICELIST_MAX_BODY_BYTES", "2048")

    from_env = ProducerSettings()
    explicit = ProducerSettings(stage="dev", api_keys=("z",))

    assert from_env.api_keys == ("a", "b", "c") and from_env.stage == "prod" and from_env.max_body_bytes == 2048
    assert explicit.stage == "dev" and explicit.api_keys == ("z",)
    assert "api_keys=" not in repr(from_env)  # keys never reach logs through a repr
    with pytest.raises(ValueError):
        ProducerSettings(envelope_bytes=2 * 1024 * 1024)


def test_keys_are_compared_against_every_configured_key() -> None:
    keys = ApiKeys(ProducerSettings(api_keys=("one", "two")), ssm=lambda: None)
    assert keys.check("one") and keys.check("two")
    assert not keys.check("on") and not keys.check("") and not keys.check(None) and not keys.check("twoo")
    assert not keys.check("\u00e9t\u00e9")


def test_ssm_keys_are_cached_refreshed_and_a_stale_copy_survives_an_outage() -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    clock = FakeClock()
    settings = ProducerSettings(api_keys_parameter="/nicelist/t/api-keys", api_keys_cache_seconds=60)
    keys = ApiKeys(settings, lambda: ssm, clock)
    with Stubber(ssm) as stub:
        stub.add_response("get_parameter", {"Parameter": {"Value": "old"}})
        assert keys.check("old") and keys.check("old")  # one read, cached
        clock.now += 61
        stub.add_response("get_parameter", {"Parameter": {"Value": "new"}})
        assert keys.check("new") and not keys.check("old")
        clock.now += 61
        stub.add_client_error("get_parameter", "ThrottlingException", http_status_code=400)
        assert keys.check("new")
        stub.assert_no_pending_responses()

    cold = ApiKeys(settings, lambda: ssm, clock)
    with Stubber(ssm) as stub:
        stub.add_client_error("get_parameter", "AccessDeniedException", http_status_code=400)
        with pytest.raises(KeysUnavailable):
            cold.check("new")


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status = status

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *_: Any) -> None:
        return None


def http_error(status: int, body: bytes = b"{}", retry_after: str | None = None) -> urllib.error.HTTPError:
    headers = email.message.Message()
    if retry_after:
        headers["Retry-After"] = retry_after
    return urllib.error.HTTPError("http://x/v1/updates", status, "x", headers, io.BytesIO(body))


class FakeOpener:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.bodies: list[bytes] = []

    def __call__(self, request: Any, timeout: float) -> FakeResponse:
        self.bodies.append(request.data)
        assert request.headers["X-api-key"] == "k"
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return FakeResponse(answer)


def http_transport(opener: FakeOpener, clock: FakeClock, deadline: float = 30.0) -> HttpTransport:
    timing = Timing(RetryPolicy(0.1, 1.0, deadline), clock, clock.sleep, random.Random(1))
    return HttpTransport("http://x/", "k", timing=timing, opener=opener)


def test_http_transport_honours_retry_after_and_retries_connection_errors() -> None:
    clock = FakeClock()
    opener = FakeOpener([http_error(503, retry_after="3"), urllib.error.URLError("refused"), 202, 202])
    items = [to_item(STATUS | {"child_id": f"c-{i}"}) for i in range(700)]

    stats = http_transport(opener, clock).send(items)

    assert stats.updates == 700 and stats.requests == 4 and stats.retries == 2
    assert clock.sleeps[0] >= 3.0
    assert [body.count(b'"kind"') for body in opener.bodies] == [500, 500, 500, 200]


def test_http_transport_gives_up_on_4xx_at_once_and_at_the_deadline_on_5xx() -> None:
    clock = FakeClock()
    rejected = FakeOpener([http_error(422, b'{"message":"1 of 1 updates are invalid"}')])
    with pytest.raises(SendFailed, match="HTTP 422: 1 of 1"):
        http_transport(rejected, clock).send([to_item(STATUS)])
    assert clock.sleeps == []

    down = FakeOpener([http_error(503, retry_after="1")] * 100)
    with pytest.raises(SendFailed, match="gave up") as caught:
        http_transport(down, clock, deadline=5).send([to_item(STATUS)])
    assert len(caught.value.unsent) == 1 and clock.now <= 5


def test_one_update_larger_than_the_envelope_is_refused() -> None:
    with pytest.raises(ValueError, match="more than the envelope limit"):
        pack([to_item(STATUS | {"reason": "x" * 280})], max_bytes=100)


class CountingTransport:
    max_updates = 50
    max_bytes = 1 << 20

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, items: list[Item], *, timeout: float | None = None) -> SendStats:
        with self.lock:
            self.sent += [item.update.child_id for item in items]
        return SendStats(updates=len(items), requests=1)


def test_many_threads_adding_at_once_send_every_update_exactly_once() -> None:
    transport = CountingTransport()
    producer = Producer(transport, linger_seconds=0.001)

    def work(thread: int) -> None:
        for i in range(500):
            producer.add(STATUS | {"child_id": f"c-{thread}-{i}"})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    producer.close()

    assert sorted(transport.sent) == sorted(f"c-{t}-{i}" for t in range(8) for i in range(500))
    assert producer.stats.updates == 4000


def test_add_after_close_is_refused() -> None:
    producer = Producer(CountingTransport(), background=False)
    producer.close()
    with pytest.raises(ProducerClosed):
        producer.add(STATUS)


def test_errors_of_the_callers_setup_are_refused_at_once_not_retried_to_the_deadline() -> None:
    assert not is_retryable(NoCredentialsError())
    assert not is_retryable(NoRegionError())
    assert not is_retryable(ParamValidationError(report="QueueUrl missing"))
    assert is_retryable(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
