"""The meter's state, apart from HTTP: capacity per table, admission, and the per-second ledgers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nicelist.local.meter.ledger import SecondCounts, TableLedger
from nicelist.local.meter.limiter import CapacityLimiter, Clock
from nicelist.local.meter.protocol import Charge

DEFAULT_RETENTION_SECONDS = 900
DEFAULT_BURST_SECONDS = 0.0


def _by_table(charges: Iterable[Charge]) -> dict[str, int]:
    units: dict[str, int] = {}
    for charge in charges:
        units[charge.table] = units.get(charge.table, 0) + charge.units
    return units


class Meter:
    """Thread-safe: every public method takes the one lock (each holds it for microseconds)."""

    def __init__(
        self,
        capacity: Mapping[str, int | None] | None = None,
        default_capacity: int | None = None,
        *,
        enforce: bool = True,
        burst_seconds: float = DEFAULT_BURST_SECONDS,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
        clock: Clock = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._capacity = dict(capacity or {})
        self._default_capacity = default_capacity
        self.enforce = enforce
        self.burst_seconds = burst_seconds
        self._retention = retention_seconds
        self._clock = clock
        self._limiters: dict[str, CapacityLimiter] = {}
        self._ledgers: dict[str, TableLedger] = {}

    def capacity(self, table: str) -> int | None:
        """The table's write capacity (WCU/s); None means unlimited."""
        with self._lock:
            return self._capacity_of(table)

    def set_capacity(self, table: str, wcu: int | None) -> None:
        """Provision ``table`` at ``wcu`` WCU/s from now on (None: unlimited)."""
        with self._lock:
            self._capacity[table] = wcu
            self._limiter(table).set_capacity(wcu)

    def set_default_capacity(self, wcu: int | None) -> None:
        """Capacity of every table without one of its own."""
        with self._lock:
            self._default_capacity = wcu
            for table, limiter in self._limiters.items():
                if table not in self._capacity:
                    limiter.set_capacity(wcu)

    def admit_all(self, charges: Sequence[Charge]) -> bool:
        """All-or-nothing admission (single writes, transactions); a refusal is recorded as a throttle."""
        with self._lock:
            if self.enforce:
                needed = _by_table(charges)
                if not all(self._fits(table, units) for table, units in needed.items()):
                    self._record((), charges, tables=charges)
                    return False
            for charge in charges:
                self._take(charge)
            return True

    def admit_one(self, charge: Charge) -> bool:
        """One write of a BatchWriteItem; the caller records the outcome with :meth:`settle`."""
        with self._lock:
            if self.enforce and not self._fits(charge.table, charge.units):
                return False
            self._take(charge)
            return True

    def settle(self, accepted: Sequence[Charge], throttled: Sequence[Charge], *, charged: bool) -> None:
        """Record a forwarded request; units DynamoDB would not have charged go back to the limiter."""
        with self._lock:
            if not charged:
                for charge in accepted:
                    self._limiter(charge.table).refund(charge.units)
            self._record(accepted if charged else (), throttled, tables=[*accepted, *throttled])

    def stats(self, last_seconds: int = 300) -> dict[str, Any]:
        """A JSON-ready reading: settings, and per table its capacity, totals, peak and series."""
        with self._lock:
            now = self._clock()
            tables = {
                table: {"capacity": self._capacity_of(table), **ledger.as_dict(now, last_seconds)}
                for table, ledger in sorted(self._ledgers.items())
            }
            return {
                "now": now,
                "enforce": self.enforce,
                "burst_seconds": self.burst_seconds,
                "default_capacity": self._default_capacity,
                "capacity": dict(self._capacity),
                "tables": tables,
            }

    def reset(self) -> None:
        """Forget the recorded seconds and totals (capacities stay)."""
        with self._lock:
            self._ledgers.clear()

    def _capacity_of(self, table: str) -> int | None:
        return self._capacity.get(table, self._default_capacity)

    def _limiter(self, table: str) -> CapacityLimiter:
        limiter = self._limiters.get(table)
        if limiter is None:
            limiter = CapacityLimiter(self._capacity_of(table), self.burst_seconds, self._clock)
            self._limiters[table] = limiter
        return limiter

    def _fits(self, table: str, units: int) -> bool:
        available = self._limiter(table).available()
        return available is None or units <= available

    def _take(self, charge: Charge) -> None:
        if self.enforce:
            self._limiter(charge.table).try_acquire(charge.units)

    def _record(self, accepted: Iterable[Charge], throttled: Iterable[Charge], tables: Iterable[Charge]) -> None:
        """One request: per table it touched, one request, its units, and a throttle event if refused."""
        units, refused = _by_table(accepted), _by_table(throttled)
        now = self._clock()
        for table in {charge.table for charge in tables}:
            counts = SecondCounts(
                units=units.get(table, 0),
                throttled_units=refused.get(table, 0),
                requests=1,
                throttle_events=1 if table in refused else 0,
            )
            self._ledger(table).record(now, counts)

    def _ledger(self, table: str) -> TableLedger:
        ledger = self._ledgers.get(table)
        if ledger is None:
            ledger = self._ledgers[table] = TableLedger(self._retention)
        return ledger
