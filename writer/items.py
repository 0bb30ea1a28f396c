"""Table items (docs/design.md, "The table") in DynamoDB's wire format, and what they cost in write units."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from contract.keys import EXPIRES_AT, PARTITION_KEY, SORT_KEY, track_key
from contract.updates import LocationUpdate, StatusUpdate

Item = dict[str, dict[str, Any]]
AnyUpdate = StatusUpdate | LocationUpdate

# Conditional state writes: only if absent or older (by revision, see contract.revision).
NEWER_THAN_STORED = "attribute_not_exists(sk) OR #rev < :rev"


def _n(value: float | int) -> dict[str, str]:
    return {"N": repr(value)}


def state_item(update: AnyUpdate, written_at: str) -> Item:
    """The ``STATUS`` or ``LOCATION`` register of a child: the newest observation only."""
    item: Item = {
        PARTITION_KEY: {"S": update.child_id},
        SORT_KEY: {"S": update.aspect},
        "observed_at": {"S": update.observed_at},
        "rev": {"S": update.revision},
        "written_at": {"S": written_at},
    }
    if isinstance(update, StatusUpdate):
        item["status"] = {"S": update.status}
        if update.reason is not None:
            item["reason"] = {"S": update.reason}
    else:
        item.update(_position(update))
    return item


def track_item(update: LocationUpdate, written_at: str, retention_days: int) -> Item:
    """One track point, ``LOC#<observed_at>#<digest>``; it expires ``retention_days`` after it was observed."""
    observed = datetime.fromisoformat(update.observed_at)
    return {
        PARTITION_KEY: {"S": update.child_id},
        SORT_KEY: {"S": track_key(update.revision)},
        "observed_at": {"S": update.observed_at},
        "written_at": {"S": written_at},
        EXPIRES_AT: _n(int(observed.timestamp()) + retention_days * 86_400),
        **_position(update),
    }


def _position(update: LocationUpdate) -> Item:
    position: Item = {"lat": _n(update.lat), "lon": _n(update.lon)}
    if update.accuracy_m is not None:
        position["accuracy_m"] = _n(update.accuracy_m)
    return position


def item_size(item: Item) -> int:
    """Bytes as DynamoDB counts them: attribute names plus values (numbers ~ 1 byte per 2 digits + 1)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        if "S" in value:
            size += len(value["S"].encode())
        elif "N" in value:
            digits = sum(ch.isdigit() for ch in value["N"])
            size += math.ceil(digits / 2) + 1
        else:
            raise ValueError(f"unsupported attribute type for {name}")
    return size


def write_units(item: Item) -> int:
    """Write capacity units a put of ``item`` consumes: one per started KB."""
    return max(1, math.ceil(item_size(item) / 1024))
