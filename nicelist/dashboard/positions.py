"""The map's data: the newest position and status of a bounded sample of children, read the way a
reader on 24 December reads them: one ``Query`` per child (``ChildReader``), never a scan per refresh.

Which children? A reader on 24 December knows the ids; the dashboard does not, so it *discovers* a
few now and then: one page of a keys-only ``Scan`` (``Limit`` items), continued from where the last
discovery stopped, at most every ``discover_every`` seconds (every ``DISCOVER_EARLY_SECONDS`` while it
knows fewer children than it maps and the table has pages it has not read). Of the children it knows
it maps a stable sample (ordered by a hash of the id, so the same children are followed from refresh
to refresh while the writers drain).

Read cost (eventually consistent reads are half a read unit per 4 KB, rounded up per request:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html):

- per refresh: one Query per sampled child reading its two registers (``STATUS`` and ``LOCATION``,
  a few hundred bytes together): 0.5 RCU each, so ``sample_size`` x 0.5 RCU (40 children: 20 RCU);
- per discovery: a Scan is charged for every item it evaluates, whatever the projection: at most
  ``Limit`` items x their size / 4 KB x 0.5 (200 items of ~200 B: about 5 RCU).

At the defaults (40 children every 5 s, a discovery every 30 s) that is about 4.2 RCU/s, inside the
5 RCU a stage provisions for reads.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from contract.keys import PARTITION_KEY, is_child_partition
from nicelist.reader import ChildReader, ChildState

SAMPLE_SIZE = 40
DISCOVERY_ITEMS = 200
DISCOVER_EVERY_SECONDS = 30.0
DISCOVER_EARLY_SECONDS = 5.0
MAX_KNOWN = 5000  # ids remembered; beyond this, new ones are not added
RCU_PER_CHILD = 0.5  # one eventually consistent Query of two small items


def _order(child_id: str) -> int:
    return zlib.crc32(child_id.encode())


def marker(state: ChildState) -> dict[str, Any] | None:
    """One child on the map, or None when it has no position a map can show."""
    fix = state.location
    if fix is None or not (math.isfinite(fix.lat) and math.isfinite(fix.lon)):
        return None
    if not (-90 <= fix.lat <= 90 and -180 <= fix.lon <= 180):
        return None
    return {
        "id": state.child_id,
        "lat": fix.lat,
        "lon": fix.lon,
        "status": state.status.status if state.status is not None else None,
        "observed_at": fix.observed_at,
    }


class ChildSample:
    """Discovers children now and then, and reads the newest state of a sample of them on each ``read()``."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        sample_size: int = SAMPLE_SIZE,
        discover_every: float = DISCOVER_EVERY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._reader = ChildReader(dynamodb, table)
        self._sample_size = sample_size
        self._discover_every = discover_every
        self._clock = clock
        self._known: set[str] = set()
        self._cursor: dict[str, Any] | None = None
        self._discovered_at: float | None = None
        self.scans = 0  # discovery Scan requests made (the tests count them)

    def follow(self, child_ids: Iterable[str]) -> None:
        """Children known from elsewhere (the ids a reader already has)."""
        for child_id in child_ids:
            if len(self._known) < MAX_KNOWN:
                self._known.add(child_id)

    def sample(self) -> list[str]:
        return sorted(self._known, key=lambda child: (_order(child), child))[: self._sample_size]

    def read(self) -> dict[str, Any]:
        """The sample's markers and what reading them cost; raises what the client raises."""
        now = self._clock()
        if self._discovery_due(now):
            self._discover(now)
        ids = self.sample()
        states = self._reader.get_many(ids)
        gone = [child for child, state in states.items() if state is None]
        self._known.difference_update(gone)  # the table holds nothing about them (any more)
        markers = [m for state in states.values() if state is not None and (m := marker(state)) is not None]
        return {
            "children": markers,
            "sampled": len(ids),
            "known": len(self._known),
            "queries": len(ids),
            "rcu_per_refresh": len(ids) * RCU_PER_CHILD,
            "discovered_at": self._discovered_at,
        }

    def _discovery_due(self, now: float) -> bool:
        if self._discovered_at is None:
            return True
        # Sooner only while the table has more to show: a small table is not scanned again and again.
        early = len(self._known) < self._sample_size and self._cursor is not None
        wait = DISCOVER_EARLY_SECONDS if early else self._discover_every
        return now - self._discovered_at >= wait

    def _discover(self, now: float) -> None:
        """One page of a keys-only Scan, continuing the last one; wraps around at the end of the table."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": "#pk",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "Limit": DISCOVERY_ITEMS,
        }
        if self._cursor is not None:
            request["ExclusiveStartKey"] = self._cursor
        self._discovered_at = now
        self.scans += 1
        page = self._dynamodb.scan(**request)
        self._cursor = page.get("LastEvaluatedKey")
        self.follow(
            str(item[PARTITION_KEY]["S"])
            for item in page.get("Items", [])
            if "S" in item.get(PARTITION_KEY, {}) and is_child_partition(str(item[PARTITION_KEY]["S"]))
        )
