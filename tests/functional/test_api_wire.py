"""The API on the wire, as the local stack runs it: ``python -m producers.serve`` (gunicorn gthread).

Raw HTTP/1.1 over a socket, because what matters here is what a client library hides: GIVEN a
chunked body, THEN exactly the byte limit is read and one byte more is 413, as with a length;
GIVEN ``Expect: 100-continue``, THEN ``100 Continue`` is sent only for a body the API will read,
and a request refused on its headers (key, media type, declared length) gets its final answer
at once, without the body ever being sent, and the connection closed behind it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer

KEY = "wire-test-key"
LIMIT = 4096
UPDATE = {"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": "2026-12-23T18:04:05Z"}
BODY = json.dumps(UPDATE).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, moto_port = moto.get_host_and_port()
    endpoint = f"http://{host}:{moto_port}"
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="x",
                       aws_secret_access_key="x")  # fmt: skip
    sqs.create_queue(QueueName="nicelist-wire-updates")
    api_port = free_port()
    env = os.environ | {
        "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
        "NICELIST_STAGE": "wire", "NICELIST_API_KEYS": KEY, "NICELIST_MAX_BODY_BYTES": str(LIMIT),
    }  # fmt: skip
    command = [sys.executable, "-m", "producers.serve", "--port", str(api_port), "--workers", "1", "--threads", "4"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{api_port}/v1/health", timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield api_port
    process.terminate()
    output, _ = process.communicate(timeout=15)
    moto.stop()
    assert "Traceback" not in output, output


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class Wire:
    """One HTTP/1.1 connection, spoken by hand."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self, timeout: float = 5) -> Answer:
        """The next response, interim (1xx) or final; ``TimeoutError`` if none comes in time."""
        self.sock.settimeout(timeout)
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._receive()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(int(status_line.split()[1]), headers, body)

    def closed(self, timeout: float = 2) -> bool:
        """Whether the server closes the connection at once (gunicorn's drain would wait 5 s)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True

    def _receive(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed before a whole response")
        self.buffer += data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def wire(port: int) -> Iterator[Wire]:
    connection = Wire(port)
    yield connection
    connection.close()


def head(length: int | None = None, *, key: str = KEY, content_type: str = "application/json", **extra: str) -> bytes:
    lines = ["POST /v1/updates HTTP/1.1", "Host: 127.0.0.1", f"x-api-key: {key}", f"Content-Type: {content_type}"]
    lines += [f"Content-Length: {length}"] if length is not None else ["Transfer-Encoding: chunked"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def padded(size: int) -> bytes:
    return BODY + b" " * (size - len(BODY))


def chunked(body: bytes, cuts: list[int]) -> bytes:
    pieces, start = [], 0
    for cut in [*sorted({c for c in cuts if 0 < c < len(body)}), len(body)]:
        pieces.append(body[start:cut])
        start = cut
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.sampled_from([LIMIT, LIMIT + 1]) | st.integers(LIMIT - 2, LIMIT + 2), cuts=st.lists(st.integers(1, LIMIT))
)
def test_a_chunked_body_of_the_limit_is_read_and_one_byte_more_is_413(port: int, size: int, cuts: list[int]) -> None:
    wire = Wire(port)
    try:
        wire.send(head() + chunked(padded(size), cuts))
        answer = wire.answer()
    finally:
        wire.close()

    assert answer.status == (202 if size <= LIMIT else 413), answer.body


@pytest.mark.parametrize("size", [LIMIT, LIMIT + 1])
def test_a_body_with_a_length_is_judged_the_same_as_chunked(wire: Wire, size: int) -> None:
    wire.send(head(size) + padded(size))
    assert wire.answer().status == (202 if size <= LIMIT else 413)


@pytest.mark.parametrize("length", [LIMIT + 1, 10**12])
def test_a_declared_length_over_the_limit_is_413_before_the_body_is_sent(wire: Wire, length: int) -> None:
    wire.send(head(length))  # and nothing more: the answer must not wait for the body

    answer = wire.answer()

    assert answer.status == 413 and json.loads(answer.body)["error"] == "body_too_large"


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (head(LIMIT + 1, Expect="100-continue"), 413),
        (head(10**9, Expect="100-Continue"), 413),
        (head(len(BODY), key="wrong", Expect="100-continue"), 401),
        (head(len(BODY), content_type="text/plain", Expect="100-continue"), 415),
        (head(len(BODY), Expect="100-continue", Content_Encoding="gzip"), 415),
    ],
)
def test_expect_100_continue_gets_no_continue_for_a_body_that_will_be_refused(
    wire: Wire, request_head: bytes, status: int
) -> None:
    wire.send(request_head)

    answer = wire.answer()

    assert answer.status == status, answer
    assert wire.closed(), "a refused body was never sent: the connection cannot be reused, so it is closed"


def test_expect_100_continue_gets_continue_then_202_for_a_body_it_reads(wire: Wire) -> None:
    wire.send(head(len(BODY), Expect="100-continue"))
    interim = wire.answer()
    wire.send(BODY)
    final = wire.answer()

    assert interim.status == 100
    assert final.status == 202 and json.loads(final.body) == {"accepted": 1}
    wire.send(head(len(BODY)) + BODY)  # and the connection stays usable
    assert wire.answer().status == 202


def test_expect_100_continue_with_a_chunked_body(wire: Wire) -> None:
    wire.send(head(None, Expect="100-continue"))
    assert wire.answer().status == 100
    wire.send(chunked(padded(LIMIT + 1), [1000, 2000]))
    assert wire.answer().status == 413


def test_a_bad_json_body_after_100_continue_is_400(wire: Wire) -> None:
    wire.send(head(3, Expect="100-continue"))
    assert wire.answer().status == 100
    wire.send(b"{,}")
    answer: Any = wire.answer()
    assert answer.status == 400 and json.loads(answer.body)["error"] == "bad_json"
