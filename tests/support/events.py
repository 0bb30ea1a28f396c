"""Build SQS events the way Lambda's event source mapping delivers them (a test client, as Chalice has).

The shapes come from the local stack's own builders (``nicelist.local.events``, ``nicelist.local.context``),
so a handler is tested with exactly what the local runtime hands it.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from nicelist.local.context import LambdaContext
from nicelist.local.events import sqs_record as lambda_record

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:nicelist-test-updates"


def sqs_record(
    body: str | dict[str, Any] | list[Any],
    message_id: str | None = None,
    receive_count: int = 1,
    attributes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``attributes``: message attributes as name -> string value, delivered in Lambda's shape."""
    text = body if isinstance(body, str) else json.dumps(body)
    now = str(int(time.time() * 1000))
    message = {  # what ReceiveMessage returns
        "MessageId": message_id or str(uuid.uuid4()),
        "ReceiptHandle": uuid.uuid4().hex,
        "Body": text,
        "MD5OfBody": hashlib.md5(text.encode()).hexdigest(),  # SQS's own checksum, not security
        "Attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now,
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": now,
        },
        "MessageAttributes": {
            name: {"StringValue": value, "DataType": "String"} for name, value in (attributes or {}).items()
        },
    }
    return dict(lambda_record(message, QUEUE_ARN, "us-east-1"))


def sqs_event(*bodies: str | dict[str, Any] | list[Any]) -> dict[str, Any]:
    return {"Records": [sqs_record(body) for body in bodies]}


def envelope(*updates: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "updates": list(updates)}


def status(child: str, at: str, value: str = "nice", **extra: Any) -> dict[str, Any]:
    return {"kind": "status", "child_id": child, "status": value, "observed_at": at, **extra}


def location(child: str, at: str, lat: float = 51.5, lon: float = -0.12, **extra: Any) -> dict[str, Any]:
    return {"kind": "location", "child_id": child, "lat": lat, "lon": lon, "observed_at": at, **extra}


def lambda_context(timeout_s: float = 30.0, clock_ms: Callable[[], int] | None = None) -> LambdaContext:
    """A LambdaContext whose deadline is ``timeout_s`` from now (on ``clock_ms``, the wall clock by default)."""
    if clock_ms is None:
        return LambdaContext.starting_now("nicelist-test-writer", timeout_s)
    return LambdaContext.starting_now("nicelist-test-writer", timeout_s, clock_ms=clock_ms)
