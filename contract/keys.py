"""The table's key scheme (docs/design.md, "The table"): one partition per child, one item per aspect.

``STATUS`` and ``LOCATION`` are each a last-writer-wins register keyed by ``observed_at``; every GPS
fix is also a track point under ``LOC#<revision>``, that is ``LOC#<observed_at>#<digest>``: the digest
keeps two different fixes observed at the same instant apart, so the track is the same in every
delivery order (both are kept), and sort-key order is still time order. Writers, readers, provisioning and the
tests all build keys here, so the scheme has one home.
"""

from __future__ import annotations

from typing import Any

PARTITION_KEY = "child_id"
SORT_KEY = "sk"
STATUS = "STATUS"
LOCATION = "LOCATION"
TRACK_PREFIX = "LOC#"
# TTL attribute of track points (epoch seconds).
EXPIRES_AT = "expires_at"
# The one partition that is not a child's: the writers' leases (writer/share.py). A child id can never
# start with "#" (contract/updates.py allows [A-Za-z0-9_.-] only), so no child's data is ever in it.
WRITERS_PARTITION = "#writers"


def is_child_partition(partition: str) -> bool:
    """Whether a partition-key value is a child's (a reader scanning the table skips the others)."""
    return not partition.startswith("#")


# What ``CreateTable`` takes: both keys are strings.
KEY_SCHEMA: list[dict[str, Any]] = [
    {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
    {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
]
ATTRIBUTE_DEFINITIONS: list[dict[str, Any]] = [
    {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
    {"AttributeName": SORT_KEY, "AttributeType": "S"},
]

Key = tuple[str, str]


def track_key(revision: str) -> str:
    """The sort key of one track point: ``LOC#`` and the fix's revision (``observed_at#digest``)."""
    return f"{TRACK_PREFIX}{revision}"


def is_track(sort_key: str) -> bool:
    return sort_key.startswith(TRACK_PREFIX)
