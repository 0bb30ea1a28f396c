"""The API as the local stack runs it: ``python -m producers.serve`` (gunicorn) in front of a moto server.

GIVEN moto server on a random port and the API under gunicorn on another, WHEN a Producer
sends through the HTTP transport, THEN every update is in the queue.
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
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from contract.updates import parse_body
from producers import Producer, SendFailed

KEY = "serve-test-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def sqs(moto_url: str) -> Any:
    client = boto3.client(
        "sqs",
        endpoint_url=moto_url,
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    client.create_queue(QueueName="nicelist-serve-updates")
    return client


@pytest.fixture(scope="module")
def api_url(moto_url: str, sqs: Any) -> Iterator[str]:
    port = free_port()
    env = os.environ | {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "NICELIST_STAGE": "serve",
        "NICELIST_API_KEYS": KEY,
    }
    command = [
        sys.executable,
        "-m",
        "producers.serve",
        "--port",
        str(port),
        "--workers",
        "1",
        "--threads",
        "4",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/v1/health", timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    output, _ = process.communicate(timeout=15)
    assert KEY not in output  # nothing sensitive printed


def test_health_through_gunicorn(api_url: str) -> None:
    with urllib.request.urlopen(f"{api_url}/v1/health", timeout=5) as response:
        assert response.status == 200
        assert json.load(response) == {"status": "ok", "queue": "reachable"}


def test_producer_over_http_puts_every_update_in_the_queue(api_url: str, sqs: Any) -> None:
    updates = [
        {"kind": "status", "child_id": f"c-{i:06d}", "status": "nice", "observed_at": "2026-12-23T18:04:05Z"}
        for i in range(1200)
    ]
    with Producer.from_api(api_url, KEY) as producer:
        producer.add_many(updates)

    # arrays of <= 500: at least 3 requests; more when the background linger flushes a partial one first
    # (it did once in CI, with the machine loaded: SendStats(updates=1200, messages=4, requests=4))
    assert producer.stats.updates == 1200 and producer.stats.requests >= 3
    url = sqs.get_queue_url(QueueName="nicelist-serve-updates")["QueueUrl"]
    seen: set[str] = set()
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            seen |= {u.child_id for u in parse_body(message["Body"]).updates}
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert seen == {u["child_id"] for u in updates}


def test_wrong_key_over_http_raises_with_the_updates(api_url: str) -> None:
    producer = Producer.from_api(api_url, "wrong", background=False)
    producer.add({"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": "2026-12-23T18:04:05Z"})
    with pytest.raises(SendFailed, match="401") as caught:
        producer.close()
    assert [u.child_id for u in caught.value.unsent] == ["c-1"]
