"""Packing updates into SQS messages, and messages into ``SendMessageBatch`` calls.

Sizes are measured on the encoded bytes of the envelope exactly as it will be sent
(``contract.envelope`` packs and seals them, as it does for the writer), so a message never exceeds
the ceiling by a rounding error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from contract.envelope import DEFAULT_ENVELOPE_BYTES, compact, pack_texts, seal
from contract.sqs import SQS_BATCH_BYTES, SQS_BATCH_ENTRIES
from contract.sqs import batches as sqs_batches
from contract.updates import LocationUpdate, StatusUpdate, encode_update, parse_update

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
    return Item(model, compact(encode_update(model)))


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
    return Message(tuple(items), seal(item.text for item in items))


def pack(items: Iterable[Item], max_bytes: int = DEFAULT_ENVELOPE_BYTES, max_count: int = 1000) -> list[Message]:
    """Greedy packing in arrival order: each envelope up to ``max_bytes`` and ``max_count`` updates."""
    listed = list(items)
    return [_seal([listed[i] for i in group]) for group in pack_texts((i.text for i in listed), max_bytes, max_count)]


def batches(
    messages: Sequence[Message], max_entries: int = SQS_BATCH_ENTRIES, max_bytes: int = SQS_BATCH_BYTES
) -> Iterator[list[Message]]:
    """Group messages into ``SendMessageBatch`` calls: ≤ 10 entries and ≤ 1 MiB of bodies per call."""
    return sqs_batches(messages, lambda message: message.size, max_entries, max_bytes)
