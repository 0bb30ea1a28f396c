"""Write capacity over time: a provisioned table's per-second allowance with its burst credit, and an
on-demand table's doubling of its previous peak (the documented rules: ``tables``).

Each wall-clock second (epoch-aligned, the same seconds the ledger records) grants a provisioned
table ``capacity`` units; unused units carry over as credit, up to ``burst_seconds x capacity``
(DynamoDB keeps 300 s). With ``burst_seconds=0`` no second ever admits more than the capacity.
A partition is a ``CapacityLimiter`` of 1,000 WCU/s without burst.

Not thread-safe on its own: the meter calls it under its lock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nicelist.local.meter.tables import (
    KEY_RANGE,
    MAX_ON_DEMAND,
    ON_DEMAND_INITIAL_PEAK_WRU,
    ON_DEMAND_PEAK_WINDOW_SECONDS,
)

Clock = Callable[[], float]


@dataclass(slots=True)
class _Window:
    second: int
    used: int = 0
    credit: int = 0


class CapacityLimiter:
    """Admits write units against one table's capacity; ``capacity=None`` admits everything."""

    def __init__(self, capacity: int | None, burst_seconds: float, clock: Clock) -> None:
        if burst_seconds < 0:
            raise ValueError("burst_seconds must be >= 0")
        self._capacity = capacity
        self._burst_seconds = burst_seconds
        self._clock = clock
        self._window = _Window(second=math.floor(clock()))

    @property
    def capacity(self) -> int | None:
        return self._capacity

    def set_capacity(self, capacity: int | None) -> None:
        """Change the capacity from now on; burst credit above the new ceiling is dropped."""
        if capacity is not None and capacity < 0:
            raise ValueError("capacity must be >= 0 or None")
        self._roll()
        self._capacity = capacity
        self._window.credit = min(self._window.credit, self._max_credit())

    def credit(self, now: float | None = None) -> int:
        """Burst credit banked for the second of ``now``: unused capacity of past seconds, capped."""
        self._roll(now)
        return self._window.credit

    def available(self, now: float | None = None) -> int | None:
        """Units still admissible in the second of ``now`` (default: the clock's); None when unlimited."""
        self._roll(now)
        if self._capacity is None:
            return None
        return max(0, self._capacity - self._window.used) + self._window.credit

    def try_acquire(self, units: int, now: float | None = None) -> bool:
        """Take ``units`` if they all fit in the second of ``now``; otherwise take nothing."""
        available = self.available(now)
        if available is None:
            return True
        if units > available:
            return False
        self._take(units)
        return True

    def refund(self, units: int) -> None:
        """Give back units taken for a write that DynamoDB would not have charged."""
        self._roll()
        self._window.used = max(0, self._window.used - units)

    def _take(self, units: int) -> None:
        assert self._capacity is not None
        left_this_second = max(0, self._capacity - self._window.used)
        self._window.credit -= max(0, units - left_this_second)
        self._window.used += units

    def _max_credit(self) -> int:
        return 0 if self._capacity is None else math.floor(self._capacity * self._burst_seconds)

    def _roll(self, now: float | None = None) -> None:
        second = math.floor(self._clock() if now is None else now)
        window = self._window
        if second <= window.second:
            return
        capacity = self._capacity or 0
        unused = max(0, capacity - window.used) + capacity * (second - window.second - 1)
        credit = min(self._max_credit(), window.credit + unused)
        self._window = _Window(second=second, credit=credit)


class OnDemandLimiter:
    """An on-demand table: up to double its previous peak per second, and never past its maximum.

    The previous peak starts at ``previous_peak`` (2,000 WRU for a new table, so 4,000 WRU/s at
    once). A second's consumption becomes the previous peak once it is 30 minutes old: traffic may
    double every 30 minutes, and a steeper climb is throttled. DynamoDB names no throttling reason
    for "more than double the previous peak"; what refuses it are the table's partitions, so the
    reason given is ``TableWriteKeyRangeThroughputExceeded``.
    """

    def __init__(
        self,
        clock: Clock,
        max_units: int | None = None,
        previous_peak: int = ON_DEMAND_INITIAL_PEAK_WRU,
        window_seconds: int = ON_DEMAND_PEAK_WINDOW_SECONDS,
    ) -> None:
        self.max_units = max_units
        self._peak = previous_peak
        self._window_seconds = window_seconds
        self._clock = clock
        self._second = math.floor(clock())
        self._used = 0
        self._recent: deque[tuple[int, int]] = deque()  # (second, units) not yet 30 minutes old

    def instant_capacity(self, now: float | None = None) -> int:
        """Double the previous peak: what the table serves in one second now (before its maximum)."""
        self._roll(now)
        return 2 * self._peak

    def refusal(self, units: int, now: float | None = None) -> str | None:
        """Why ``units`` more would be refused in the second of ``now``; None if they fit."""
        self._roll(now)
        if self.max_units is not None and self._used + units > self.max_units:
            return MAX_ON_DEMAND
        if self._used + units > 2 * self._peak:
            return KEY_RANGE
        return None

    def take(self, units: int, now: float | None = None) -> None:
        self._roll(now)
        self._used += units

    def refund(self, units: int) -> None:
        self._roll()
        self._used = max(0, self._used - units)

    def _roll(self, now: float | None = None) -> None:
        second = math.floor(self._clock() if now is None else now)
        if second > self._second:
            if self._used:
                self._recent.append((self._second, self._used))
            self._second, self._used = second, 0
        while self._recent and self._recent[0][0] <= second - self._window_seconds:
            self._peak = max(self._peak, self._recent.popleft()[1])
