"""The meter's state, apart from HTTP: capacity per table, admission, and the per-second ledgers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nicelist.local.meter.ledger import SecondCounts, TableLedger
from nicelist.local.meter.limiter import CapacityLimiter, Clock
from nicelist.local.meter.protocol import Charge

DEFAULT_RETENTION_SECONDS = 900
DEFAULT_BURST_SECONDS = 0.0


@dataclass(frozen=True, slots=True)
class Admission:
    """The meter's answer to one request: which of its writes go, decided at one clock reading.

    Units are recorded in the second of ``at`` (the second the limiter charged), never in the
    second the upstream happened to answer, so the ledger and the limiter agree on every second.
    """

    at: float
    charges: tuple[Charge, ...]
    admitted: tuple[bool, ...]

    @property
    def accepted(self) -> tuple[Charge, ...]:
        return tuple(c for c, ok in zip(self.charges, self.admitted, strict=True) if ok)

    @property
    def throttled(self) -> tuple[Charge, ...]:
        return tuple(c for c, ok in zip(self.charges, self.admitted, strict=True) if not ok)

    @property
    def refused(self) -> bool:
        """Nothing goes: the whole request gets ProvisionedThroughputExceededException."""
        return not any(self.admitted)


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

    def admit_all(self, charges: Sequence[Charge]) -> Admission:
        """All-or-nothing admission (single writes, transactions): every table must have room."""
        with self._lock:
            now = self._clock()
            if self.enforce:
                needed = _by_table(charges)
                if not all(self._fits(table, units, now) for table, units in needed.items()):
                    return Admission(now, tuple(charges), (False,) * len(charges))
            for charge in charges:
                self._take(charge, now)
            return Admission(now, tuple(charges), (True,) * len(charges))

    def admit_each(self, charges: Sequence[Charge], refuse: Sequence[bool] = ()) -> Admission:
        """Admission write by write, in order (BatchWriteItem): those that fit go, the rest do not.

        ``refuse`` marks writes refused whatever the capacity (an injected fault): they take nothing.
        """
        with self._lock:
            now = self._clock()
            admitted = []
            for index, charge in enumerate(charges):
                if index < len(refuse) and refuse[index]:
                    admitted.append(False)
                    continue
                fits = not self.enforce or self._fits(charge.table, charge.units, now)
                if fits:
                    self._take(charge, now)
                admitted.append(fits)
            return Admission(now, tuple(charges), tuple(admitted))

    def refuse(self, charges: Sequence[Charge]) -> Admission:
        """A request refused whatever the capacity (an injected throttle): nothing is taken."""
        with self._lock:
            return Admission(self._clock(), tuple(charges), (False,) * len(charges))

    def settle(self, admission: Admission, *, charged: bool = True) -> None:
        """Record a request in the second it was admitted; uncharged units go back to the limiter."""
        with self._lock:
            if not charged:
                for charge in admission.accepted:
                    self._limiter(charge.table).refund(charge.units)
            accepted = admission.accepted if charged else ()
            self._record(admission.at, accepted, admission.throttled, admission.charges)

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

    def _fits(self, table: str, units: int, now: float) -> bool:
        available = self._limiter(table).available(now)
        return available is None or units <= available

    def _take(self, charge: Charge, now: float) -> None:
        if self.enforce:
            self._limiter(charge.table).try_acquire(charge.units, now)

    def _record(
        self, now: float, accepted: Iterable[Charge], throttled: Iterable[Charge], tables: Iterable[Charge]
    ) -> None:
        """One request: per table it touched, one request, its units, and a throttle event if refused."""
        units, refused = _by_table(accepted), _by_table(throttled)
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
