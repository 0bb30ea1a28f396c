"""Contract 5 under moto: every status code of POST /v1/updates, and what reaches the queue.

GIVEN an app built with ``create_app`` around a moto SQS client, WHEN a producer posts,
THEN the answer and the queue's contents agree: 202 means the updates are in the queue,
and anything else means nothing was enqueued.
"""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from flask.testing import FlaskClient
from moto import mock_aws

from contract.updates import OBSERVED_AT_PATTERN, InvalidBody, parse_body
from producers.api import create_app
from producers.retry import RetryPolicy
from producers.settings import ProducerSettings
from producers.transport import Timing

KEY = "k-test-1"
HEADERS = {"x-api-key": KEY}


def status(i: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "status",
        "child_id": f"c-{i:06d}",
        "status": "nice",
        "observed_at": "2026-12-23T18:04:05Z",
    } | extra


def location(i: int = 1, **extra: Any) -> dict[str, Any]:
    base = {"kind": "location", "child_id": f"c-{i:06d}", "lat": 51.5072, "lon": -0.1276}
    return base | {"observed_at": "2026-12-23T18:04:15+01:00"} | extra


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "NICELIST_API_KEYS", "NICELIST_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("sqs", region_name="eu-west-1")
        client.create_queue(QueueName="nicelist-test-updates")
        yield client


def make_client(sqs: Any, **overrides: Any) -> FlaskClient:
    settings = ProducerSettings(stage="test", api_keys=(KEY, "k-test-2"), **overrides)
    return create_app(settings, sqs=sqs).test_client()


@pytest.fixture
def client(sqs: Any) -> FlaskClient:
    return make_client(sqs)


def queued(sqs: Any) -> list[dict[str, Any]]:
    url = sqs.get_queue_url(QueueName="nicelist-test-updates")["QueueUrl"]
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            parsed = parse_body(message["Body"])
            assert parsed.packed and not parsed.rejected
            found += [update.model_dump(mode="json") for update in parsed.updates]


def test_one_update_is_accepted_and_is_in_the_queue(client: FlaskClient, sqs: Any) -> None:
    response = client.post("/v1/updates", json=status(), headers=HEADERS)

    assert response.status_code == 202
    assert response.get_json() == {"accepted": 1}
    assert [u["child_id"] for u in queued(sqs)] == ["c-000001"]


def test_an_array_of_500_is_accepted_packed_into_few_messages(client: FlaskClient, sqs: Any) -> None:
    updates = [status(i) if i % 3 else location(i) for i in range(500)]

    response = client.post("/v1/updates", json=updates, headers={"x-api-key": "k-test-2"})

    assert response.status_code == 202 and response.get_json() == {"accepted": 500}
    in_queue = queued(sqs)
    assert sorted(u["child_id"] for u in in_queue) == sorted(u["child_id"] for u in updates)
    assert {u["observed_at"] for u in in_queue if u["kind"] == "location"} == {"2026-12-23T17:04:15.000000Z"}


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"x-api-key": ""}, {"x-api-key": KEY + "x"}])
def test_missing_or_wrong_key_is_401_and_enqueues_nothing(client: FlaskClient, sqs: Any, headers: Any) -> None:
    response = client.post("/v1/updates", json=status(), headers=headers)

    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert queued(sqs) == []


def test_no_configured_keys_refuses_everyone(sqs: Any) -> None:
    app = create_app(ProducerSettings(stage="test", api_keys=()), sqs=sqs).test_client()
    assert app.post("/v1/updates", json=status(), headers=HEADERS).status_code == 401


def test_keys_from_an_ssm_securestring(sqs: Any) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    ssm.put_parameter(Name="/nicelist/test/api-keys", Value="from-ssm, other", Type="SecureString")
    settings = ProducerSettings(stage="test", api_keys_parameter="/nicelist/test/api-keys")
    app = create_app(settings, sqs=sqs, ssm=ssm).test_client()

    assert app.post("/v1/updates", json=status(), headers={"x-api-key": "from-ssm"}).status_code == 202
    assert app.post("/v1/updates", json=status(), headers={"x-api-key": "other"}).status_code == 202
    assert app.post("/v1/updates", json=status(), headers=HEADERS).status_code == 401


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"nope", b"[1,", b'"a string"', b"42", b"null", b"true", b"\xff\xfe{}", b"[" * 100_000,
     b'{"kind":"location","child_id":"c-1","lat":NaN,"lon":0,"observed_at":"2026-12-23T18:04:05Z"}',
     b"[Infinity]", b"-Infinity"],
)  # fmt: skip
def test_bad_json_is_400_and_enqueues_nothing(client: FlaskClient, sqs: Any, body: bytes) -> None:
    response = client.post("/v1/updates", data=body, headers=HEADERS, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_json"
    assert queued(sqs) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"kind":"status","child_id":"c-1","status":"nice","status":"naughty","observed_at":"2026-12-23T18:04:05Z"}',
         "duplicate key"),
        (b'[{"kind":"status","kind":"location","child_id":"c-1","lat":1,"lon":1,"observed_at":"2026-12-23T18:04:05Z"}]',
         "duplicate key"),
        (b'{"kind":"status","child_id":"c-1","status":"nice","observed_at":"2026-12-23T18:04:05Z","reason":"\\ud800"}',
         "surrogate"),
        (b'{"kind":"location","child_id":"c-1","lat":1e400,"lon":0,"observed_at":"2026-12-23T18:04:05Z"}',
         "out of range"),
        (b"[" * 40 + b"]" * 40, "nested deeper"),
        (b"[" + b"9" * 5000 + b"]", "digits"),
    ],
)  # fmt: skip
def test_what_strict_json_refuses_is_400_as_the_writer_refuses_it(
    client: FlaskClient, sqs: Any, body: bytes, reason: str
) -> None:
    response = client.post("/v1/updates", data=body, headers=HEADERS, content_type="application/json")

    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "bad_json" and reason in response.get_json()["message"]
    assert queued(sqs) == []
    with pytest.raises(InvalidBody, match=reason):
        parse_body(body.decode())


def test_422_names_every_bad_item_and_enqueues_none_of_the_good_ones(client: FlaskClient, sqs: Any) -> None:
    body = [status(0), location(1, lat=123.456), status(2), {"kind": "status"}, status(4, colour="red"), 7]

    response = client.post("/v1/updates", json=body, headers=HEADERS)

    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {(e["index"], e["field"]) for e in errors} >= {
        (1, "lat"),
        (3, "child_id"),
        (4, "colour"),
        (5, "(body)"),
    }
    assert {e["index"] for e in errors} == {1, 3, 4, 5}
    assert "123.456" not in response.get_data(as_text=True)  # children's data is not echoed back
    assert queued(sqs) == []


def test_an_empty_array_is_422(client: FlaskClient) -> None:
    assert client.post("/v1/updates", json=[], headers=HEADERS).status_code == 422


def test_more_than_500_updates_is_413(client: FlaskClient, sqs: Any) -> None:
    response = client.post("/v1/updates", json=[status(i) for i in range(501)], headers=HEADERS)
    assert response.status_code == 413 and queued(sqs) == []


def test_a_body_over_the_limit_is_413_by_content_length_and_by_bytes_read(sqs: Any) -> None:
    client = make_client(sqs, max_body_bytes=2048)
    body = json.dumps([status(i) for i in range(40)]).encode()
    assert len(body) > 2048

    by_length = client.post("/v1/updates", data=body, headers=HEADERS, content_type="application/json")
    chunked = client.post(  # as gunicorn passes a chunked body: no length, input terminated
        "/v1/updates",
        input_stream=io.BytesIO(body),
        headers=HEADERS | {"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert by_length.status_code == 413 and by_length.get_json()["error"] == "body_too_large"
    assert chunked.status_code == 413
    assert queued(sqs) == []


def test_with_a_bound_an_update_too_far_ahead_is_422_on_observed_at_and_nothing_is_queued(sqs: Any) -> None:
    client = make_client(sqs, max_future_seconds=3600)
    now = datetime.now(UTC)
    soon, later = (now + timedelta(minutes=30)).isoformat(), (now + timedelta(hours=2)).isoformat()

    refused = client.post(
        "/v1/updates", json=[status(1, observed_at=soon), status(2, observed_at=later)], headers=HEADERS
    )
    accepted = client.post("/v1/updates", json=status(3, observed_at=soon), headers=HEADERS)

    assert refused.status_code == 422
    [error] = refused.get_json()["errors"]
    assert (error["index"], error["field"]) == (1, "observed_at")
    assert "is more than 3600 s ahead of now" in error["message"]
    assert accepted.status_code == 202
    assert [u["child_id"] for u in queued(sqs)] == ["c-000003"]
    description = client.get("/v1/openapi.json").get_json()["paths"]["/v1/updates"]["post"]["description"]
    assert "more than 3600 s ahead" in description


def test_without_a_bound_the_far_future_is_accepted(client: FlaskClient) -> None:
    response = client.post("/v1/updates", json=status(observed_at="9999-12-31T23:59:59Z"), headers=HEADERS)
    assert response.status_code == 202


def test_the_bound_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ProducerSettings().max_future_seconds is None
    monkeypatch.setenv("NICELIST_MAX_FUTURE_SECONDS", "3600")
    assert ProducerSettings().max_future_seconds == 3600.0
    monkeypatch.setenv("NICELIST_MAX_FUTURE_SECONDS", "-1")
    with pytest.raises(ValueError):
        ProducerSettings()


def stubbed_app(failures: int) -> tuple[FlaskClient, Stubber]:
    sqs = boto3.client("sqs", region_name="eu-west-1")
    stub = Stubber(sqs)
    for _ in range(failures):
        stub.add_response(
            "send_message_batch",
            {"Successful": [], "Failed": [{"Id": "0", "SenderFault": False, "Code": "InternalError"}]},
        )
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    timing = Timing(RetryPolicy(0.1, 0.5, 3.0), lambda: now[0], sleep, random.Random(1))
    settings = ProducerSettings(stage="test", api_keys=(KEY,), queue_url="https://sqs.eu-west-1.amazonaws.com/1/q")
    return create_app(settings, sqs=sqs, timing=timing).test_client(), stub


def test_sqs_failing_past_the_deadline_is_503_with_retry_after() -> None:
    client, stub = stubbed_app(failures=100)
    with stub:
        response = client.post("/v1/updates", json=status(), headers=HEADERS)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["error"] == "queue_unavailable"


def test_a_briefly_failing_entry_is_retried_and_then_202() -> None:
    client, stub = stubbed_app(failures=2)
    with stub:
        stub.add_response(
            "send_message_batch",
            {"Successful": [{"Id": "0", "MessageId": "m", "MD5OfMessageBody": "x"}], "Failed": []},
        )
        response = client.post("/v1/updates", json=status(), headers=HEADERS)
        stub.assert_no_pending_responses()
    assert response.status_code == 202


def test_a_missing_queue_is_503_and_health_says_so(sqs: Any) -> None:
    client = create_app(ProducerSettings(stage="absent", api_keys=(KEY,)), sqs=sqs).test_client()

    assert client.post("/v1/updates", json=status(), headers=HEADERS).status_code == 503
    health = client.get("/v1/health")
    assert health.status_code == 503 and health.get_json()["queue"] == "unreachable"


def test_health_needs_no_key(client: FlaskClient) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "queue": "reachable"}


def test_unknown_paths_and_methods_answer_json(client: FlaskClient) -> None:
    missing = client.get("/v1/nothing")
    wrong_method = client.get("/v1/updates")

    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"]
    assert wrong_method.is_json


def test_an_unexpected_error_is_a_json_500_never_a_202() -> None:
    class Broken:
        def send_message_batch(self, **_: Any) -> Any:
            raise RuntimeError("boom")

    settings = ProducerSettings(stage="test", api_keys=(KEY,), queue_url="https://example/q")
    response = create_app(settings, sqs=Broken()).test_client().post("/v1/updates", json=status(), headers=HEADERS)

    assert response.status_code == 500 and response.get_json()["error"] == "internal_error"


def test_logs_carry_counts_and_request_ids_not_children(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="producers"):
        client.post("/v1/updates", json=[location(7), location(8)], headers=HEADERS | {"x-request-id": "req-123"})
        client.post("/v1/updates", json=[location(9, lat=99)], headers=HEADERS)

    text = caplog.text
    assert "req-123" in text and "2 updates" in text
    assert "c-000007" not in text and "51.5072" not in text


def test_openapi_is_3_1_and_built_from_the_contract_models(client: FlaskClient) -> None:
    document = client.get("/v1/openapi.json").get_json()

    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    assert schemas["StatusUpdate"]["properties"]["reason"]["anyOf"][0]["maxLength"] == 280
    assert schemas["UpdateBatch"]["maxItems"] == 500
    for name in ("StatusUpdate", "LocationUpdate"):  # the timestamp grammar is stated, not only "date-time"
        observed_at = schemas[name]["properties"]["observed_at"]
        assert observed_at["format"] == "date-time" and observed_at["pattern"] == OBSERVED_AT_PATTERN
        for restriction in ("6 fractional", "leap second", "0001 to 9999"):
            assert restriction in observed_at["description"]
    assert set(document["paths"]["/v1/updates"]["post"]["responses"]) == {
        "202",
        "400",
        "401",
        "413",
        "415",
        "422",
        "503",
    }
    refs = {ref.split("/")[-1] for ref in _refs(document)}
    assert refs <= set(schemas)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"$ref", "mapping"}:
                yield from value.values() if isinstance(value, dict) else [value]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_module_level_app_is_a_wsgi_app_built_on_first_request() -> None:
    from werkzeug.test import Client  # noqa: PLC0415

    import producers.api  # noqa: PLC0415

    response = Client(producers.api.app).get("/v1/openapi.json")

    assert response.status_code == 200 and response.json is not None and "paths" in response.json


def test_unreadable_ssm_keys_are_503_not_401_and_enqueue_nothing(sqs: Any) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")  # the parameter does not exist
    settings = ProducerSettings(stage="test", api_keys_parameter="/nicelist/test/api-keys")
    client = create_app(settings, sqs=sqs, ssm=ssm).test_client()

    response = client.post("/v1/updates", json=status(), headers=HEADERS)

    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert queued(sqs) == []


def test_422_messages_say_what_is_wrong_in_the_contracts_words(client: FlaskClient) -> None:
    body = location(1, lat=91.0, observed_at="2026-12-23T18:04:05") | {"accuracy_m": -1}

    errors = client.post("/v1/updates", json=body, headers=HEADERS).get_json()["errors"]

    by_field = {e["field"]: e["message"] for e in errors}
    assert by_field["lat"] == "Input should be less than or equal to 90"
    assert by_field["accuracy_m"] == "Input should be greater than or equal to 0"
    assert "timezone" in by_field["observed_at"]
    assert {e["index"] for e in errors} == {0}
