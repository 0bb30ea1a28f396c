"""What the demo checks after the drain: the table holds exactly the newest state of every child.

The demo knows every update the API accepted, so it computes the expected ``STATUS`` and
``LOCATION`` registers (newest revision wins, the writer's own rule) and the set of track points,
and compares them with a full scan of the table, read straight from moto (not through the meter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from contract.keys import PARTITION_KEY, SORT_KEY, is_child_partition, track_key
from contract.updates import LocationUpdate, StatusUpdate

AnyUpdate = StatusUpdate | LocationUpdate


@dataclass(slots=True)
class Expected:
    """The newest update per child and aspect, and every distinct track point."""

    registers: dict[tuple[str, str], AnyUpdate] = field(default_factory=dict)
    track_points: set[tuple[str, str]] = field(default_factory=set)

    def add(self, update: AnyUpdate) -> None:
        key = (update.child_id, update.aspect)
        current = self.registers.get(key)
        if current is None or update.revision > current.revision:
            self.registers[key] = update
        if isinstance(update, LocationUpdate):
            self.track_points.add((update.child_id, track_key(update.revision)))

    def extend(self, updates: Iterable[AnyUpdate]) -> None:
        for update in updates:
            self.add(update)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How the table compares with what was accepted."""

    registers_expected: int
    registers_correct: int
    registers_missing: int
    registers_wrong: int
    track_expected: int
    track_missing: int

    @property
    def lost(self) -> int:
        """Accepted observations the table does not show: missing or overwritten by an older one."""
        return self.registers_missing + self.registers_wrong + self.track_missing

    @property
    def exact(self) -> bool:
        return self.lost == 0


def scan_table(dynamodb: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every child's item; the writers' lease partition (``contract.keys.WRITERS_PARTITION``) is not data."""
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if is_child_partition(item[PARTITION_KEY]["S"]):
                items[(item[PARTITION_KEY]["S"], item[SORT_KEY]["S"])] = item
    return items


def compare(expected: Expected, items: dict[tuple[str, str], dict[str, Any]]) -> Verdict:
    correct = missing = wrong = 0
    for key, update in expected.registers.items():
        item = items.get(key)
        if item is None:
            missing += 1
        elif item.get("rev", {}).get("S") == update.revision:
            correct += 1
        else:
            wrong += 1
    track_missing = sum(1 for key in expected.track_points if key not in items)
    return Verdict(
        registers_expected=len(expected.registers),
        registers_correct=correct,
        registers_missing=missing,
        registers_wrong=wrong,
        track_expected=len(expected.track_points),
        track_missing=track_missing,
    )
