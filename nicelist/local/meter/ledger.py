"""What reached each table, per wall-clock second: the independent measure of the rate the table sees."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class SecondCounts:
    """Counts for one table in one epoch-aligned second (or a total over many)."""

    units: int = 0
    throttled_units: int = 0
    requests: int = 0
    throttle_events: int = 0

    def add(self, other: SecondCounts) -> None:
        self.units += other.units
        self.throttled_units += other.throttled_units
        self.requests += other.requests
        self.throttle_events += other.throttle_events

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class TableLedger:
    """Per-second counts for one table, the last ``retention_seconds`` of them, and all-time totals."""

    retention_seconds: int
    seconds: OrderedDict[int, SecondCounts] = field(default_factory=OrderedDict)
    totals: SecondCounts = field(default_factory=SecondCounts)
    peak_units: int = 0
    peak_second: int | None = None
    peak_offered: int = 0  # units asked for in one second, accepted or throttled: what the clients produced

    def record(self, now: float, counts: SecondCounts) -> None:
        second = math.floor(now)
        bucket = self.seconds.get(second)
        if bucket is None:
            bucket = self.seconds[second] = SecondCounts()
            self._prune(second)
        bucket.add(counts)
        self.totals.add(counts)
        if bucket.units > self.peak_units:
            self.peak_units, self.peak_second = bucket.units, second
        self.peak_offered = max(self.peak_offered, bucket.units + bucket.throttled_units)

    def series(self, now: float, last_seconds: int) -> list[dict[str, int]]:
        """Every second of the window, oldest first, zeros included, so plots need no gap filling."""
        end = math.floor(now)
        start = end - max(1, last_seconds) + 1
        empty = SecondCounts()
        return [{"second": second, **self.seconds.get(second, empty).as_dict()} for second in range(start, end + 1)]

    def as_dict(self, now: float, last_seconds: int) -> dict[str, Any]:
        return {
            "totals": self.totals.as_dict(),
            "peak_units_per_second": self.peak_units,
            "peak_second": self.peak_second,
            "peak_offered_units_per_second": self.peak_offered,
            "series": self.series(now, last_seconds),
        }

    def _prune(self, newest: int) -> None:
        oldest_kept = newest - self.retention_seconds
        while self.seconds:
            second = next(iter(self.seconds))
            if second > oldest_kept:
                return
            del self.seconds[second]
