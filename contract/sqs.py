"""SQS's batch limits, and grouping entries into batch calls under them.

``SendMessageBatch`` takes at most 10 entries and at most 1 MiB (1,048,576 bytes) in all, the sum of
every entry's body and message attributes
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html);
``ChangeMessageVisibilityBatch`` and ``DeleteMessageBatch`` take at most 10 entries too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 1024 * 1024

T = TypeVar("T")


def batches(
    items: Iterable[T],
    size: Callable[[T], int],
    max_entries: int = SQS_BATCH_ENTRIES,
    max_bytes: int = SQS_BATCH_BYTES,
) -> Iterator[list[T]]:
    """Group ``items`` in order into calls of at most ``max_entries`` and ``max_bytes`` (by ``size``);
    an item bigger than ``max_bytes`` goes in a call of its own (SQS then says why it refuses it)."""
    current: list[T] = []
    total = 0
    for item in items:
        length = size(item)
        if current and (len(current) >= max_entries or total + length > max_bytes):
            yield current
            current, total = [], 0
        current.append(item)
        total += length
    if current:
        yield current


def attribute_bytes(attributes: Mapping[str, Mapping[str, Any]]) -> int:
    """What message attributes add to a message's size: each name, data type and value, in UTF-8
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html)."""
    total = 0
    for name, attribute in attributes.items():
        value = attribute.get("StringValue", attribute.get("BinaryValue", b""))
        total += len(name.encode()) + len(str(attribute.get("DataType", "")).encode())
        total += len(value) if isinstance(value, bytes) else len(str(value).encode())
    return total
