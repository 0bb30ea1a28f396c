"""Reading a child back (docs/design.md, "The table"): one ``Query`` on the child's partition.

The partition holds at most two registers (``STATUS``, ``LOCATION``) and the track points
``LOC#<observed_at>#<digest>``. Sort-key order is ``LOC#…`` (oldest first) < ``LOCATION`` <
``STATUS``, because ``#`` sorts before ``A``. So:

- without the track, ``sk BETWEEN "LOCATION" AND "STATUS"`` reads exactly the two registers in one
  request. Two ``GetItem`` calls would cost two round trips and twice the read units (each rounds up
  to 4 KB on its own; one query rounds the two small items up once);
- with the track, the query runs newest first (``ScanIndexForward=False``): the two registers come
  first, then the track from its newest point back, so ``track_limit`` keeps the newest points and
  pages stop as soon as there are enough. The track is returned in time order.

Track points past their ``expires_at`` are left out: TTL deletes them within days, not at once, and
until then they are data the retention rule says is gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from contract.keys import EXPIRES_AT, LOCATION, PARTITION_KEY, SORT_KEY, STATUS, is_track

DEFAULT_TRACK_LIMIT = 1000
DEFAULT_WORKERS = 8
Item = dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """The child's newest naughty/nice verdict as the table holds it."""

    status: str
    reason: str | None
    observed_at: str
    written_at: str | None


@dataclass(frozen=True, slots=True)
class LocationRecord:
    """The child's newest GPS fix."""

    lat: float
    lon: float
    accuracy_m: float | None
    observed_at: str
    written_at: str | None


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One fix of the track (every fix the writer wrote, not only the newest)."""

    lat: float
    lon: float
    accuracy_m: float | None
    observed_at: str
    written_at: str | None


@dataclass(frozen=True, slots=True)
class ChildState:
    """What the table holds about one child; ``track`` is empty unless it was asked for."""

    child_id: str
    status: StatusRecord | None
    location: LocationRecord | None
    track: list[TrackPoint] = field(default_factory=list)


def _s(item: Item, name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value and "S" in value else None


def _n(item: Item, name: str) -> float | None:
    value = item.get(name)
    return float(value["N"]) if value and "N" in value else None


def _status(item: Item) -> StatusRecord:
    return StatusRecord(
        status=_s(item, "status") or "",
        reason=_s(item, "reason"),
        observed_at=_s(item, "observed_at") or "",
        written_at=_s(item, "written_at"),
    )


def _position(item: Item) -> dict[str, Any]:
    return {
        "lat": _n(item, "lat") or 0.0,
        "lon": _n(item, "lon") or 0.0,
        "accuracy_m": _n(item, "accuracy_m"),
        "observed_at": _s(item, "observed_at") or "",
        "written_at": _s(item, "written_at"),
    }


def _expired(item: Item, now: float) -> bool:
    expires = _n(item, EXPIRES_AT)
    return expires is not None and expires <= now


def _full(points: list[TrackPoint], limit: int | None) -> bool:
    return limit is not None and len(points) >= limit


class ChildReader:
    """Reads children from a stage's table with the low-level DynamoDB client (thread-safe)."""

    def __init__(self, dynamodb: Any, table: str, *, clock: Callable[[], float] = time.time) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock

    def get(
        self,
        child_id: str,
        track: bool = False,
        track_limit: int | None = DEFAULT_TRACK_LIMIT,
        *,
        consistent: bool = False,
    ) -> ChildState | None:
        """The child's registers (and newest ``track_limit`` track points, None: all), or None when the
        table holds nothing about the child."""
        status: StatusRecord | None = None
        location: LocationRecord | None = None
        points: list[TrackPoint] = []
        found = False
        now = self._clock()
        for item in self._items(child_id, track, track_limit, consistent):
            found = True
            sort_key = _s(item, SORT_KEY) or ""
            if sort_key == STATUS:
                status = _status(item)
            elif sort_key == LOCATION:
                location = LocationRecord(**_position(item))
            elif is_track(sort_key) and track and not _expired(item, now) and not _full(points, track_limit):
                points.append(TrackPoint(**_position(item)))
        if not found:
            return None
        points.reverse()  # read newest first; shown in time order
        return ChildState(child_id, status, location, points)

    def get_many(
        self, child_ids: Iterable[str], track: bool = False, *, max_workers: int = DEFAULT_WORKERS
    ) -> dict[str, ChildState | None]:
        """Many children at once, at most ``max_workers`` queries in flight; keyed in the order given."""
        ids: Sequence[str] = list(dict.fromkeys(child_ids))
        if not ids:
            return {}
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(ids)))) as pool:
            states = list(pool.map(lambda child: self.get(child, track), ids))
        return dict(zip(ids, states, strict=True))

    def _items(self, child_id: str, track: bool, track_limit: int | None, consistent: bool) -> Iterator[Item]:
        """The partition's items newest first; pages only as far as the track limit needs."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": consistent,
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":c": {"S": child_id}},
        }
        if track:
            request["KeyConditionExpression"] = "#pk = :c"
            request["ScanIndexForward"] = False
            if track_limit is not None:
                request["Limit"] = track_limit + 2  # the two registers come first
        else:
            request["KeyConditionExpression"] = "#pk = :c AND #sk BETWEEN :low AND :high"
            request["ExpressionAttributeNames"]["#sk"] = SORT_KEY  # DynamoDB refuses names it is not given to use
            request["ExpressionAttributeValues"].update({":low": {"S": LOCATION}, ":high": {"S": STATUS}})
        seen_track = 0
        while True:
            page = self._dynamodb.query(**request)
            for item in page.get("Items", []):
                seen_track += is_track(_s(item, SORT_KEY) or "")
                yield item
            last = page.get("LastEvaluatedKey")
            if not last or (track_limit is not None and seen_track >= track_limit):
                return
            request["ExclusiveStartKey"] = last
