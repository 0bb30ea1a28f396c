"""The cut-able TCP line: bytes through, then a cut (reset or blackhole), then back; and boto3's view of it."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from moto.server import ThreadedMotoServer

from nicelist.local.cutline import CutLine
from nicelist.local.processes import free_port


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def line(echo: int) -> Iterator[CutLine]:
    with CutLine("127.0.0.1", echo) as running:
        yield running


def _connect(line: CutLine) -> socket.socket:
    return socket.create_connection(("127.0.0.1", line.port), timeout=1)


def _echoes(sock: socket.socket, text: bytes = b"ping") -> bool:
    sock.sendall(text)
    return sock.recv(1024) == text


def test_bytes_go_through_both_ways(line: CutLine) -> None:
    with _connect(line) as sock:
        assert _echoes(sock, b"hello")
        assert _echoes(sock, b"again")
    # the count of the way back is taken after those bytes were passed on: wait for it, briefly
    deadline = time.monotonic() + 5
    while line.stats()["bytes_forwarded"] < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert line.stats()["bytes_forwarded"] >= 20


def test_a_reset_cut_resets_open_and_new_connections_until_restored(line: CutLine) -> None:
    held = _connect(line)
    assert _echoes(held)
    line.cut("reset")
    with pytest.raises(OSError):
        held.sendall(b"x")
        if not held.recv(1024):
            raise ConnectionResetError("closed")
    with pytest.raises(OSError), _connect(line) as fresh:
        fresh.sendall(b"x")
        if not fresh.recv(1024):
            raise ConnectionResetError("closed")
    line.restore()
    with _connect(line) as after:
        assert _echoes(after)
    stats = line.stats()
    assert stats["state"] == "open" and stats["refused_while_cut"] >= 1 and stats["reset"] >= 1
    assert [cut["mode"] for cut in stats["cuts"]] == ["reset"]


def test_a_blackhole_answers_nothing_then_resets_the_stalled_connection(line: CutLine) -> None:
    sock = _connect(line)
    line.cut("blackhole")
    sock.sendall(b"lost")
    with pytest.raises(TimeoutError):
        sock.recv(1024)
    line.restore()
    with pytest.raises(OSError):
        if not sock.recv(1024):
            raise ConnectionResetError("closed")
    with _connect(line) as after:
        assert _echoes(after)


def test_boto3_sees_a_cut_sqs_line_as_a_connection_error_and_a_restored_one_as_sqs() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        with CutLine(host, port) as line:
            config = Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=1)
            sqs = boto3.client("sqs", endpoint_url=line.url, region_name="us-east-1", config=config)
            url = sqs.create_queue(QueueName="cut")["QueueUrl"]
            line.cut("reset")
            with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
                sqs.send_message(QueueUrl=url, MessageBody="x")
            line.cut("blackhole")
            with pytest.raises((ReadTimeoutError, ConnectionClosedError)):
                sqs.send_message(QueueUrl=url, MessageBody="x")
            line.restore()
            sqs.send_message(QueueUrl=url, MessageBody="y")
            direct = boto3.client("sqs", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
            bodies = [m["Body"] for m in direct.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
            assert "y" in bodies
    finally:
        server.stop()
