"""Requests counted where a bill counts them: on the client, by botocore event hooks.

``DynamoCounter`` counts write requests and the write units of the items they carry
(``writer.items.write_units``: moto's consumed capacity is fake); a conditional put whose condition
fails is counted, as DynamoDB charges for it. ``SqsCounter`` counts SQS requests and their billed
requests: SQS bills each 64 KiB chunk of a request's payload as one request (a 256 KiB batch is 4).
``answer_at_once`` makes a client's SQS answer every send at once, without a server, so what is
timed is the caller's work only.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, cast

from botocore.awsrequest import AWSResponse

from writer.items import Item, write_units

SQS_BILLING_CHUNK = 64 * 1024


@dataclass
class _Requests:
    """Requests by operation, and totals beside them, counted by botocore hooks (thread-safe)."""

    requests: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    HOOKS: ClassVar[dict[str, str]] = {}  # botocore event -> the method counting it

    def attach(self, client: Any) -> Self:
        for event, method in self.HOOKS.items():
            client.meta.events.register(event, getattr(self, method))
        return self

    def _record(self, operation: str, **totals: int) -> None:
        with self._lock:
            self.requests += 1
            self.by_operation[operation] = self.by_operation.get(operation, 0) + 1
            for name, value in totals.items():
                setattr(self, name, getattr(self, name) + value)


@dataclass
class DynamoCounter(_Requests):
    """DynamoDB write requests and the write units of their items (the writer writes from 8 threads)."""

    units: int = 0
    HOOKS: ClassVar[dict[str, str]] = {
        "provide-client-params.dynamodb.PutItem": "_put",
        "provide-client-params.dynamodb.BatchWriteItem": "_batch",
    }

    def _count(self, operation: str, items: Sequence[Item]) -> None:
        self._record(operation, units=sum(write_units(item) for item in items))

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        self._count("PutItem", [params["Item"]])

    def _batch(self, params: dict[str, Any], **_: Any) -> None:
        writes = [w["PutRequest"]["Item"] for ws in params["RequestItems"].values() for w in ws]
        self._count("BatchWriteItem", writes)


def billed_requests(payload_bytes: int) -> int:
    """What SQS bills for one request carrying ``payload_bytes``: one per started 64 KiB chunk."""
    return max(1, math.ceil(payload_bytes / SQS_BILLING_CHUNK))


def _message_bytes(message: dict[str, Any], body_key: str = "MessageBody") -> int:
    size = len(message.get(body_key, "").encode())
    for name, value in message.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(value.get("DataType", "").encode())
        size += len(value.get("StringValue", "").encode()) + len(value.get("BinaryValue", b""))
    return size


@dataclass
class SqsCounter(_Requests):
    """SQS requests, billed requests, and the messages and payload bytes sent."""

    billed: int = 0
    messages_sent: int = 0
    bytes_sent: int = 0
    HOOKS: ClassVar[dict[str, str]] = {
        "provide-client-params.sqs.SendMessage": "_send_one",
        "provide-client-params.sqs.SendMessageBatch": "_send_batch",
        "after-call.sqs.ReceiveMessage": "_received",
        "after-call.sqs.DeleteMessage": "_other",
        "after-call.sqs.DeleteMessageBatch": "_other",
    }

    def _add(self, operation: str, payload: int, sent: int = 0) -> None:
        self._record(operation, billed=billed_requests(payload), messages_sent=sent, bytes_sent=payload if sent else 0)

    def _send_one(self, params: dict[str, Any], **_: Any) -> None:
        self._add("SendMessage", _message_bytes(params), 1)

    def _send_batch(self, params: dict[str, Any], **_: Any) -> None:
        entries = params["Entries"]
        self._add("SendMessageBatch", sum(_message_bytes(entry) for entry in entries), len(entries))

    def _received(self, parsed: dict[str, Any], **_: Any) -> None:
        messages = parsed.get("Messages", [])
        self._add("ReceiveMessage", sum(_message_bytes(m, "Body") for m in messages))

    def _other(self, model: Any, **_: Any) -> None:
        self._add(model.name, 0)

    def per_1000(self, updates: int) -> float:
        return 1000 * self.requests / updates if updates else 0.0


def answer_at_once(client: Any) -> Any:
    """Answer the client's ``SendMessage``/``SendMessageBatch`` at once, every message accepted.

    A ``before-send`` hook returns the response botocore would have read from SQS, so the client
    still serializes every request and parses every answer; only the network and the server are gone.
    """
    client.meta.events.register("before-send.sqs.SendMessageBatch", _accept_batch)
    client.meta.events.register("before-send.sqs.SendMessage", _accept_one)
    return client


def _accepted(entry: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.md5(entry["MessageBody"].encode(), usedforsecurity=False).hexdigest()
    return {"Id": entry.get("Id", ""), "MessageId": str(uuid.uuid4()), "MD5OfMessageBody": digest}


def _accept_batch(request: Any, **_: Any) -> AWSResponse:
    entries = json.loads(request.body)["Entries"]
    return _response({"Successful": [_accepted(entry) for entry in entries], "Failed": []})


def _accept_one(request: Any, **_: Any) -> AWSResponse:
    answer = _accepted(json.loads(request.body))
    answer.pop("Id")
    return _response(answer)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _response(payload: dict[str, Any]) -> AWSResponse:
    headers = {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": str(uuid.uuid4())}
    body = _Raw(json.dumps(payload).encode())
    return AWSResponse("https://sqs.us-east-1.amazonaws.com/", 200, cast(Any, headers), body)
