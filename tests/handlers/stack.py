"""Helpers for runtime tests: moto server in-process, queues, a config, waiting, reading records."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from nicelist.local.config import RuntimeConfig, Tuning

REPO = Path(__file__).resolve().parents[2]
HANDLER = "tests.handlers.behave:handler"


@contextmanager
def moto_server() -> Iterator[str]:
    """An endpoint URL; credentials and region for the test process too."""
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def sqs_client(endpoint: str) -> Any:
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")


def make_queue(sqs: Any, name: str, *, visibility: int = 1, max_receive: int | None = None) -> tuple[str, str]:
    """A queue and its DLQ; with ``max_receive`` the queue redrives to the DLQ."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    attributes = {"VisibilityTimeout": str(visibility)}
    if max_receive is not None:
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive)})
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"], dlq


def send(sqs: Any, queue_url: str, *bodies: str) -> None:
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)


def config(endpoint: str, queue_url: str, records: Path, **overrides: Any) -> RuntimeConfig:
    tuning = Tuning(**{k: overrides.pop(k) for k in list(overrides) if k in Tuning.__dataclass_fields__})
    settings: dict[str, Any] = {
        "handler": HANDLER,
        "wait_time_seconds": 1,
        "timeout_seconds": 5.0,
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "environment": {"RECORD_PATH": str(records)},
        "python_path": (str(REPO),),
        "throttle_backoff_seconds": 0.2,
    }
    settings.update(overrides)
    return RuntimeConfig(queue_url=queue_url, tuning=tuning, **settings)


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def queue_depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages"):
        messages.extend(batch)
    return messages


# Fixtures for the runtime tests (registered in tests/conftest.py): one moto server per test module.
@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def sqs(endpoint: str) -> Any:
    return sqs_client(endpoint)
