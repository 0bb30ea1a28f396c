"""The packed SQS message ``{"v": 1, "updates": [...]}`` (docs/design.md, "An SQS message").

Everyone who packs updates into messages (the SDK, the writer's deferrals and dead letters)
uses ``pack_texts``, so an envelope's size is measured on exactly the text that is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from contract.delivery import MAX_MESSAGE_BYTES

ENVELOPE_VERSION = 1
MAX_SQS_MESSAGE_BYTES = MAX_MESSAGE_BYTES
DEFAULT_ENVELOPE_BYTES = 256 * 1024
_HEAD = f'{{"v":{ENVELOPE_VERSION},"updates":['
_TAIL = "]}"
ENVELOPE_OVERHEAD = len(_HEAD) + len(_TAIL)


class UpdateTooLarge(ValueError):
    """One update alone does not fit the envelope limit."""


def compact(value: Any) -> str:
    """The compact JSON text every envelope is built from."""
    return json.dumps(value, separators=(",", ":"))


def seal(texts: Iterable[str]) -> str:
    """One envelope body from already-encoded update texts."""
    return _HEAD + ",".join(texts) + _TAIL


def encode_envelope(updates: Iterable[Any]) -> str:
    """One envelope body from JSON-ready updates (dicts, or anything else the DLQ must keep verbatim)."""
    return seal(compact(update) for update in updates)


def pack_texts(texts: Iterable[str], max_bytes: int, max_count: int | None = None) -> list[list[int]]:
    """Greedy packing in order: the indexes of ``texts`` that go into each envelope.

    Each envelope stays within ``max_bytes`` (UTF-8, envelope included) and ``max_count`` updates;
    an update too large for an envelope of its own raises ``UpdateTooLarge``.
    """
    groups: list[list[int]] = []
    current: list[int] = []
    size = ENVELOPE_OVERHEAD
    for index, text in enumerate(texts):
        length = len(text.encode())
        if ENVELOPE_OVERHEAD + length > max_bytes:
            raise UpdateTooLarge(f"one update is {length} bytes, more than the envelope limit {max_bytes}")
        extra = length + (1 if current else 0)
        if current and (size + extra > max_bytes or (max_count is not None and len(current) >= max_count)):
            groups.append(current)
            current, size, extra = [], ENVELOPE_OVERHEAD, length
        current.append(index)
        size += extra
    if current:
        groups.append(current)
    return groups
