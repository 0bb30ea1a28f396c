"""The API refuses what it cannot read, in-process (as zappa calls it): media type, encoding, size.

GIVEN a request whose headers say the body is not JSON, or is compressed, WHEN it is posted, THEN
the answer is 415 and nothing is queued. GIVEN a body of n bytes, with a Content-Length or chunked
(no length, the stream terminated by the server), THEN it is read iff n <= the limit, else 413.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from contract.updates import parse_body
from producers.api import create_app
from producers.settings import ProducerSettings

KEY = "media-key"
LIMIT = 2048
UPDATE = {"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": "2026-12-23T18:04:05Z"}
BODY = json.dumps(UPDATE).encode()
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[FlaskClient, Any, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
        url = sqs.create_queue(QueueName="nicelist-media-updates")["QueueUrl"]
        options = ProducerSettings(stage="media", api_keys=(KEY,), queue_url=url, max_body_bytes=LIMIT)
        yield create_app(options, sqs=sqs).test_client(), sqs, url


def drain(sqs: Any, url: str) -> int:
    count = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            count += len(parse_body(message["Body"]).updates)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return count


def post(client: FlaskClient, body: bytes, headers: dict[str, str], **options: Any) -> Any:
    return client.post("/v1/updates", data=body, headers={"x-api-key": KEY, **headers}, **options)


def is_json_utf8(content_type: str) -> bool:
    """What the API must accept, written independently of it: RFC 8259's media type, UTF-8 only."""
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in {"utf-8", "utf8"}:
            return False
    return True


tokens = st.from_regex(r"\A[a-z0-9+.-]{1,12}\Z")
media_types = st.one_of(
    st.sampled_from(["application", "text", "multipart", "APPLICATION"]).flatmap(
        lambda kind: st.sampled_from(["json", "JSON", "x-www-form-urlencoded", "plain", "merge-patch+json"]).map(
            lambda sub: f"{kind}/{sub}"
        )
    ),
    st.builds("{}/{}".format, tokens, tokens),
)
parameters = st.lists(
    st.sampled_from(["charset=utf-8", "charset=UTF-8", 'charset="utf-8"', "charset=latin-1", "charset=utf-16", "q=1"]),
    max_size=2,
)
content_types = st.builds(lambda media, params: "; ".join([media, *params]), media_types, parameters)


@settings(max_examples=150, **SETTINGS)
@given(content_type=content_types)
def test_a_body_that_is_not_utf8_json_by_its_content_type_is_415(
    world: tuple[FlaskClient, Any, str], content_type: str
) -> None:
    client, sqs, url = world
    drain(sqs, url)  # what an earlier failing example left must not count

    response = post(client, BODY, {"Content-Type": content_type})

    expected = 202 if is_json_utf8(content_type) else 415
    assert response.status_code == expected, (content_type, response.get_json())
    assert drain(sqs, url) == (1 if expected == 202 else 0)
    if expected == 415:
        assert response.get_json()["error"] == "unsupported_media_type"


def test_a_body_without_a_content_type_is_415(world: tuple[FlaskClient, Any, str]) -> None:
    client, sqs, url = world
    drain(sqs, url)  # what an earlier failing example left must not count
    response = client.post("/v1/updates", data=BODY, headers={"x-api-key": KEY})
    assert response.status_code == 415 and "application/json" in response.get_json()["message"]
    assert drain(sqs, url) == 0


encodings = st.lists(
    st.sampled_from(["gzip", "br", "deflate", "compress", "x-gzip", "zstd", "identity", "IDENTITY", "aes128gcm"]),
    min_size=1,
    max_size=3,
).map(", ".join)


@settings(max_examples=60, **SETTINGS)
@given(encoding=encodings)
def test_a_compressed_body_is_415_and_says_to_send_it_uncompressed(
    world: tuple[FlaskClient, Any, str], encoding: str
) -> None:
    client, sqs, url = world
    drain(sqs, url)  # what an earlier failing example left must not count
    identity_only = all(token.strip().lower() == "identity" for token in encoding.split(","))
    body = BODY if identity_only else gzip.compress(BODY)

    response = post(client, body, {"Content-Type": "application/json", "Content-Encoding": encoding})

    if identity_only:
        assert response.status_code == 202 and drain(sqs, url) == 1
    else:
        assert response.status_code == 415
        assert response.get_json()["error"] == "unsupported_media_type"
        assert "Content-Encoding" in response.get_json()["message"]
        assert response.headers["Accept-Encoding"] == "identity"
        assert drain(sqs, url) == 0


def test_a_wrong_key_is_401_before_the_media_type_is_looked_at(world: tuple[FlaskClient, Any, str]) -> None:
    client, _, _ = world
    response = client.post("/v1/updates", data=BODY, headers={"x-api-key": "wrong", "Content-Type": "text/plain"})
    assert response.status_code == 401


def padded(size: int) -> bytes:
    """A valid single-update body of exactly ``size`` bytes (JSON allows trailing whitespace)."""
    assert size >= len(BODY)
    return BODY + b" " * (size - len(BODY))


sizes = st.one_of(st.integers(LIMIT - 3, LIMIT + 3), st.integers(len(BODY), 3 * LIMIT))


@settings(max_examples=60, **SETTINGS)
@given(size=sizes, chunked=st.booleans())
def test_a_body_is_read_iff_it_is_within_the_limit_with_a_length_or_chunked(
    world: tuple[FlaskClient, Any, str], size: int, chunked: bool
) -> None:
    client, sqs, url = world
    drain(sqs, url)  # what an earlier failing example left must not count
    body = padded(size)
    if chunked:  # as gunicorn passes a chunked body: no length, the input stream terminated
        response = client.post(
            "/v1/updates",
            input_stream=io.BytesIO(body),
            headers={"x-api-key": KEY, "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
            environ_overrides={"wsgi.input_terminated": True},
        )
    else:
        response = post(client, body, {"Content-Type": "application/json"})

    assert response.status_code == (202 if size <= LIMIT else 413), response.get_json()
    assert drain(sqs, url) == (1 if size <= LIMIT else 0)
