"""What Lambda's SQS event source mapping sends and what it accepts back.

``sqs_event`` turns ReceiveMessage results into the event Lambda builds; ``failed_message_ids`` applies
Lambda's documented ``ReportBatchItemFailures`` rules to a handler's response.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

# The system attributes Lambda puts in each record (standard queues).
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
)


class InvalidBatchResponse(ValueError):
    """The handler's response makes Lambda treat the whole batch as failed."""


class SqsRecord(TypedDict):
    messageId: str
    receiptHandle: str
    body: str
    attributes: dict[str, str]
    messageAttributes: dict[str, dict[str, Any]]
    md5OfBody: str
    eventSource: str
    eventSourceARN: str
    awsRegion: str


class SqsEvent(TypedDict):
    Records: list[SqsRecord]


def _attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """SQS's ``MessageAttributeValue`` in Lambda's camel-case shape; binary values are base64 text."""
    binary = value.get("BinaryValue")
    shaped: dict[str, Any] = {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    return {key: item for key, item in shaped.items() if item is not None}


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> SqsRecord:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: attributes[name] for name in RECORD_ATTRIBUTES if name in attributes},
        "messageAttributes": {name: _attribute(value) for name, value in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str, region: str) -> SqsEvent:
    return {"Records": [sqs_record(message, queue_arn, region) for message in messages]}


def failed_message_ids(response: object, message_ids: Sequence[str]) -> set[str]:
    """The ids to leave on the queue, per Lambda's rules for ``ReportBatchItemFailures``.

    Complete success: ``None``, ``{}``, a dict without ``batchItemFailures`` (Lambda ignores unknown
    keys, so a misspelt key deletes the whole batch: the trap of returning nothing), or an empty or null
    list. Complete failure (raises): anything else that is not a dict, a non-list ``batchItemFailures``,
    an entry without a non-empty string ``itemIdentifier``, or an id that is not in the batch.
    """
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise InvalidBatchResponse(f"response is a {type(response).__name__}, not an object")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse("batchItemFailures is not a list")
    known = set(message_ids)
    failed: set[str] = set()
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(identifier, str) or not identifier:
            raise InvalidBatchResponse(f"batch item failure without an itemIdentifier: {entry!r}")
        if identifier not in known:
            raise InvalidBatchResponse(f"itemIdentifier {identifier!r} is not a message of this batch")
        failed.add(identifier)
    return failed
