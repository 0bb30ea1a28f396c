"""Packing updates into SQS messages, and messages into ``SendMessageBatch`` calls.

Sizes are measured on the encoded bytes of the envelope exactly as it will be sent
(``writer.contract.encode_envelope`` produces the same text), so a message never exceeds
the ceiling by a rounding error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from writer.contract import (
    DEFAULT_ENVELOPE_BYTES,
    ENVELOPE_VERSION,
    LocationUpdate,
    StatusUpdate,
    encode_update,
    parse_update,
)

SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 1024 * 1024
_HEAD = f'{{"v":{ENVELOPE_VERSION},"updates":['
_TAIL = "]}"
ENVELOPE_OVERHEAD = len(_HEAD) + len(_TAIL)

AnyUpdate = StatusUpdate | LocationUpdate


@dataclass(frozen=True, slots=True)
class Item:
    """A validated update and its compact JSON text, encoded once."""

    update: AnyUpdate
    text: str

    @property
    def size(self) -> int:
        return len(self.text.encode())


def to_item(update: AnyUpdate | dict[str, Any], index: int | None = None) -> Item:
    """Validate (models are re-validated too: they may have been built with ``model_construct``)."""
    raw = update.model_dump(mode="json") if isinstance(update, StatusUpdate | LocationUpdate) else update
    model = parse_update(raw, index)
    return Item(model, json.dumps(encode_update(model), separators=(",", ":")))


@dataclass(frozen=True, slots=True)
class Message:
    """One SQS message: an envelope of one or more updates."""

    items: tuple[Item, ...]
    body: str

    @property
    def size(self) -> int:
        return len(self.body.encode())

    @property
    def updates(self) -> list[AnyUpdate]:
        return [item.update for item in self.items]


def _seal(items: list[Item]) -> Message:
    return Message(tuple(items), _HEAD + ",".join(item.text for item in items) + _TAIL)


def pack(items: Iterable[Item], max_bytes: int = DEFAULT_ENVELOPE_BYTES, max_count: int = 1000) -> list[Message]:
    """Greedy packing in arrival order: each envelope up to ``max_bytes`` and ``max_count`` updates."""
    messages: list[Message] = []
    current: list[Item] = []
    size = ENVELOPE_OVERHEAD
    for item in items:
        extra = item.size + (1 if current else 0)
        if current and (size + extra > max_bytes or len(current) >= max_count):
            messages.append(_seal(current))
            current, size, extra = [], ENVELOPE_OVERHEAD, item.size
        if ENVELOPE_OVERHEAD + item.size > max_bytes:
            raise ValueError(f"one update is {item.size} bytes, more than the envelope limit {max_bytes}")
        current.append(item)
        size += extra
    if current:
        messages.append(_seal(current))
    return messages


def batches(
    messages: Sequence[Message], max_entries: int = SQS_BATCH_ENTRIES, max_bytes: int = SQS_BATCH_BYTES
) -> Iterator[list[Message]]:
    """Group messages into ``SendMessageBatch`` calls: ≤ 10 entries and ≤ 1 MiB of bodies per call."""
    current: list[Message] = []
    size = 0
    for message in messages:
        if current and (len(current) >= max_entries or size + message.size > max_bytes):
            yield current
            current, size = [], 0
        current.append(message)
        size += message.size
    if current:
        yield current
