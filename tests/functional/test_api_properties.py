"""Properties of POST /v1/updates under moto: whatever the body, no 5xx, and nothing invalid queued.

For every body: the answer is one of 202/400/413/422; a 202 put exactly the accepted number
of valid updates in the queue; any other answer put nothing there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from contract.updates import InvalidBody, parse_body
from producers.api import create_app
from producers.settings import ProducerSettings

KEY = "prop-key"

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
child_ids = st.from_regex(r"\A[A-Za-z0-9_.-]{1,64}\Z") | st.text(max_size=70)
timestamps = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | st.text(max_size=30)  # often wrong
numbers = st.floats(allow_nan=False) | st.integers(-1000, 1000) | st.text(max_size=5) | st.booleans()


@st.composite
def near_updates(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly-shaped updates: each field valid or not, sometimes missing, sometimes extra."""
    kind = draw(st.sampled_from(["status", "location", "other"]))
    update: dict[str, Any] = {"kind": kind, "child_id": draw(child_ids), "observed_at": draw(timestamps)}
    if kind == "status":
        update["status"] = draw(st.sampled_from(["naughty", "nice", "meh"]))
        if draw(st.booleans()):
            update["reason"] = draw(st.text(max_size=300) | st.integers())
    else:
        update["lat"] = draw(st.floats(-90, 90) | numbers)
        update["lon"] = draw(st.floats(-180, 180) | numbers)
        if draw(st.booleans()):
            update["accuracy_m"] = draw(st.floats(0, 1e6) | numbers)
    if draw(st.integers(0, 9)) == 0:
        update.pop(draw(st.sampled_from(sorted(update))))
    if draw(st.integers(0, 9)) == 0:
        update[draw(st.text(min_size=1, max_size=8))] = draw(json_scalars)
    return update


valid_ids = st.from_regex(r"\A[A-Za-z0-9_.-]{1,64}\Z")
# RFC 3339 spellings: whole-minute offsets (isoformat writes LMT's seconds, which RFC 3339 has not),
# fractions of 0 to 6 digits, "Z" or a numeric offset, inside the years UTC can represent either way.
minute_offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
valid_times = st.builds(
    lambda moment, timespec, zulu: moment.isoformat(timespec=timespec).replace("+00:00", "Z" if zulu else "+00:00"),
    st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31), timezones=minute_offsets),
    st.sampled_from(["seconds", "milliseconds", "microseconds"]),
    st.booleans(),
)
valid_updates = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.just("status"), "child_id": valid_ids, "observed_at": valid_times,
         "status": st.sampled_from(["naughty", "nice"])},
        optional={"reason": st.text(max_size=280)},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("location"), "child_id": valid_ids, "observed_at": valid_times,
         "lat": st.floats(-90, 90), "lon": st.floats(-180, 180)},
        optional={"accuracy_m": st.floats(0, 1000)},
    ),
)  # fmt: skip


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


bodies = st.one_of(
    valid_updates.map(dumps),
    st.lists(valid_updates, min_size=1, max_size=40).map(dumps),
    st.lists(valid_updates | near_updates(), min_size=1, max_size=10).map(dumps),
    st.binary(max_size=200),
    json_values.map(dumps),
    near_updates().map(dumps),
    st.lists(near_updates(), max_size=30).map(dumps),
    st.lists(near_updates() | json_values, max_size=5).map(dumps),
)


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[FlaskClient, Any, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
        url = sqs.create_queue(QueueName="nicelist-prop-updates")["QueueUrl"]
        settings_ = ProducerSettings(stage="prop", api_keys=(KEY,), queue_url=url, max_body_bytes=64 * 1024)
        yield create_app(settings_, sqs=sqs).test_client(), sqs, url


def drain(sqs: Any, url: str) -> list[Any]:
    updates: list[Any] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            parsed = parse_body(message["Body"])
            assert not parsed.rejected, "an invalid update reached the queue"
            updates += parsed.updates
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return updates


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_no_body_causes_a_5xx_or_queues_anything_invalid(world: tuple[FlaskClient, Any, str], body: bytes) -> None:
    client, sqs, url = world

    response = client.post("/v1/updates", data=body, headers={"x-api-key": KEY}, content_type="application/json")

    event(f"status {response.status_code}")
    assert response.status_code in {202, 400, 413, 422}, response.get_data(as_text=True)
    assert response.is_json
    queued = drain(sqs, url)
    if response.status_code == 202:
        sent = json.loads(body)
        assert len(queued) == response.get_json()["accepted"] == (len(sent) if isinstance(sent, list) else 1)
        assert all(math.isfinite(getattr(u, "lat", 0.0)) for u in queued)
    else:
        assert queued == []
        if response.status_code == 422:
            assert all({"index", "field", "message"} <= set(e) for e in response.get_json()["errors"])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(max_size=20).filter(lambda k: k != KEY), body=bodies)
def test_without_the_key_nothing_is_queued(world: tuple[FlaskClient, Any, str], key: str, body: bytes) -> None:
    client, sqs, url = world
    headers = {"x-api-key": key} if key.isascii() and key.isprintable() else {}

    response = client.post("/v1/updates", data=body, headers=headers, content_type="application/json")

    assert response.status_code == 401
    assert drain(sqs, url) == []


# One update object written out pair by pair, so a key may repeat (with another value), and a
# value may be what only a lenient reader takes: NaN, 1e400, deep nesting, long digit runs.
field_values = st.sampled_from(["NaN", "1e400", "-Infinity", '"\\ud800"', "[" * 50 + "]" * 50, "9" * 5000]) | st.one_of(
    st.sampled_from(["status", "location", "nice", "naughty", "c-000001", "2026-12-23T18:04:05Z"]),
    valid_times,
    st.floats(-180, 180),
    json_scalars,
).map(json.dumps)


@st.composite
def update_texts(draw: st.DrawFn) -> str:
    base = draw(valid_updates)
    pairs = [(json.dumps(k), json.dumps(v)) for k, v in base.items()]
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(sorted(base)) | st.text(max_size=4))
        pairs.insert(draw(st.integers(0, len(pairs))), (json.dumps(name), draw(field_values)))
    return "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=update_texts())
def test_the_api_and_the_writer_read_one_update_alike(world: tuple[FlaskClient, Any, str], text: str) -> None:
    """GIVEN one update as text, WHEN the API takes it and the writer parses it, THEN both see the same."""
    client, sqs, url = world

    response = client.post(
        "/v1/updates", data=text.encode(), headers={"x-api-key": KEY}, content_type="application/json"
    )
    queued = drain(sqs, url)
    try:
        parsed: Any = parse_body(text)
    except InvalidBody:
        parsed = None

    event(f"status {response.status_code}")
    writer_takes_it = parsed is not None and not parsed.packed and len(parsed.updates) == 1
    assert (response.status_code == 202) == writer_takes_it, response.get_json()
    if writer_takes_it:
        assert queued == parsed.updates
