"""Build SQS events the way Lambda's event source mapping delivers them (a test client, as Chalice has)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

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
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": uuid.uuid4().hex,
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now,
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": now,
        },
        "messageAttributes": {
            name: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
            for name, value in (attributes or {}).items()
        },
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # SQS's own checksum, not security
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def sqs_event(*bodies: str | dict[str, Any] | list[Any]) -> dict[str, Any]:
    return {"Records": [sqs_record(body) for body in bodies]}


def envelope(*updates: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "updates": list(updates)}


def status(child: str, at: str, value: str = "nice", **extra: Any) -> dict[str, Any]:
    return {"kind": "status", "child_id": child, "status": value, "observed_at": at, **extra}


def location(child: str, at: str, lat: float = 51.5, lon: float = -0.12, **extra: Any) -> dict[str, Any]:
    return {"kind": "location", "child_id": child, "lat": lat, "lon": lon, "observed_at": at, **extra}


@dataclass
class FakeContext:
    """A LambdaContext with a real deadline measured on the wall clock."""

    timeout_s: float = 30.0
    function_name: str = "nicelist-test-writer"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:nicelist-test-writer"
    log_group_name: str = "/aws/lambda/nicelist-test-writer"
    log_stream_name: str = "test"
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))
