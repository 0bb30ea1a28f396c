"""Provisioned write capacity per table: a per-second allowance plus a small burst credit.

DynamoDB lets a table consume its provisioned units every second and keeps up to 300 seconds
of unused capacity as burst credit. Here each wall-clock second (epoch-aligned, the same
seconds the ledger records) grants ``capacity`` units; unused units carry over as credit, up
to ``burst_seconds x capacity``. With ``burst_seconds=0`` no second ever admits more than the
capacity, so "peak one-second write rate <= 1.00 x capacity" holds exactly.

Not thread-safe on its own: the meter calls it under its lock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

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
