"""The meter's state, apart from HTTP: each table's capacity, partitions and mode, admission, and the
per-second ledgers.

A table's write capacity is, in this order: the meter's own setting for it (``--capacity``, ``PUT
/_meter/capacity``: provisioned WCU; an auto scaling activity, ``rescale``, replaces it), what the
table states (learned from CreateTable / UpdateTable / DescribeTable: provisioned WCU, or on-demand
with its maximum throughput), the default capacity; None is unlimited. Each second's capacity in
force is kept for the stats, beside the ledger. A write is refused past the table's allowance
(``limiter``) or past 1,000 WCU/s on its partition (``tables``), and the refusal says which (``Throttle``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nicelist.local.meter.ledger import SecondCounts, TableLedger
from nicelist.local.meter.limiter import CapacityLimiter, Clock, OnDemandLimiter
from nicelist.local.meter.protocol import Charge
from nicelist.local.meter.tables import (
    BURST_SECONDS,
    KEY_RANGE,
    ON_DEMAND_INITIAL_PEAK_WRU,
    PARTITION_WCU,
    TABLE_PROVISIONED,
    TableSpec,
    partition_of,
    provisioned_partitions,
    table_arn,
)

DEFAULT_RETENTION_SECONDS = 900
DEFAULT_BURST_SECONDS = BURST_SECONDS
"""DynamoDB's 300 s; 0 is the strict mode (no second admits more than the capacity) for stress runs."""


@dataclass(frozen=True, slots=True)
class Throttle:
    """Why a table refused writes: a DynamoDB throttling reason (``tables``) and the table."""

    table: str
    reason: str


@dataclass(frozen=True, slots=True)
class Admission:
    """The meter's answer to one request: which of its writes go, decided at one clock reading.

    Units are recorded in the second of ``at`` (the second the limiter charged), never in the
    second the upstream happened to answer, so the ledger and the limiter agree on every second.
    """

    at: float
    charges: tuple[Charge, ...]
    admitted: tuple[bool, ...]
    throttles: tuple[Throttle, ...] = ()  # why the refused writes were refused, each reason once

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


def _capacity_during(changes: Sequence[tuple[float, int | None]], second: int) -> int | None:
    """The highest capacity in force at any moment of ``second``, from ``(since, wcu)`` changes in
    time order; None when it was unlimited (or unknown) at some moment of it."""
    values = [wcu for since, wcu in changes if second < since < second + 1]
    before = [wcu for since, wcu in changes if since <= second]
    values.append(before[-1] if before else None)
    return None if None in values else max(v for v in values if v is not None)


def _by_table(charges: Iterable[Charge]) -> dict[str, int]:
    units: dict[str, int] = {}
    for charge in charges:
        units[charge.table] = units.get(charge.table, 0) + charge.units
    return units


@dataclass(slots=True)
class _Table:
    """One table's limits: its allowance (provisioned or on-demand) and its partitions."""

    limiter: CapacityLimiter
    spec: TableSpec | None = None
    on_demand: OnDemandLimiter | None = None
    partitions: list[CapacityLimiter] = field(default_factory=list)
    highest_wcu: int = 0  # the highest WCU it was provisioned with: its previous peak if made on-demand
    reasons: Counter[str] = field(default_factory=Counter)
    # (since, WCU) each time the enforced capacity changed, and the auto scaling activities applied
    capacities: list[tuple[float, int | None]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)


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
        self._tables: dict[str, _Table] = {}
        self._ledgers: dict[str, TableLedger] = {}
        for table in self._capacity:  # burst credit accrues from the start, not from the first write
            self._state(table)

    def capacity(self, table: str) -> int | None:
        """The table's provisioned write capacity (WCU/s); None means on-demand or unlimited."""
        with self._lock:
            return self._capacity_of(table)

    def set_capacity(self, table: str, wcu: int | None) -> None:
        """Provision ``table`` at ``wcu`` WCU/s from now on, whatever the table states (None: unlimited)."""
        with self._lock:
            self._capacity[table] = wcu
            self._apply(table)

    def set_default_capacity(self, wcu: int | None) -> None:
        """Capacity of every table without one of its own (neither the meter's nor the table's)."""
        with self._lock:
            self._default_capacity = wcu
            for table in self._tables:
                self._apply(table)

    def learn(self, spec: TableSpec) -> None:
        """What the table itself states (its key, billing mode, capacities): applied from now on."""
        with self._lock:
            self._state(spec.name).spec = spec
            self._apply(spec.name)

    def rescale(self, spec: TableSpec, activity: dict[str, Any]) -> None:
        """Auto scaling changed the table (``autoscaling``): what it now states is enforced, even over a
        capacity set with ``--capacity`` / ``PUT /_meter/capacity`` (else the override would win)."""
        with self._lock:
            if spec.name in self._capacity and not spec.on_demand:
                self._capacity[spec.name] = spec.write_capacity
            state = self._state(spec.name)
            state.spec = spec
            state.activities.append(activity)
            self._apply(spec.name)

    def consumed(self, table: str, start: float, end: float) -> float:
        """Mean accepted write units per second over the whole seconds in [start, end): what
        ``ConsumedWriteCapacityUnits`` reports per minute, divided by the seconds."""
        with self._lock:
            ledger = self._ledgers.get(table)
            first, last = math.floor(start), math.floor(end)
            if last <= first:
                return 0.0
            if ledger is None:
                return 0.0
            units = sum(counts.units for second, counts in ledger.seconds.items() if first <= second < last)
            return units / (last - first)

    def forget(self, table: str) -> None:
        """The table was deleted: its limits go (its recorded seconds stay until ``reset``)."""
        with self._lock:
            self._tables.pop(table, None)

    def spec(self, table: str) -> TableSpec | None:
        with self._lock:
            state = self._tables.get(table)
            return state.spec if state is not None else None

    def on_demand_throughput(self, table: str) -> tuple[int, int | None] | None:
        """An on-demand table's ``(units it serves at once, its maximum or None)``; None if not on-demand."""
        with self._lock:
            state = self._tables.get(table)
            if state is None or state.on_demand is None:
                return None
            return state.on_demand.instant_capacity(self._clock()), state.on_demand.max_units

    def hash_key(self, table: str) -> str | None:
        """The partition key's attribute name, if the table has told."""
        spec = self.spec(table)
        return spec.hash_key if spec is not None else None

    def arn(self, table: str) -> str:
        spec = self.spec(table)
        return spec.arn if spec is not None and spec.arn else table_arn(table)

    def partitions(self, table: str) -> int:
        """How many partitions the table's capacity is spread over (0: no partition limits apply)."""
        with self._lock:
            return self._partition_count(self._state(table), self._clock())

    def admit_all(self, charges: Sequence[Charge]) -> Admission:
        """All-or-nothing admission (single writes, transactions): every table and partition must have room."""
        with self._lock:
            now = self._clock()
            if self.enforce and (throttle := self._refusal(charges, now)) is not None:
                return Admission(now, tuple(charges), (False,) * len(charges), (throttle,))
            for charge in charges:
                self._take(charge, now)
            return Admission(now, tuple(charges), (True,) * len(charges))

    def admit_each(self, charges: Sequence[Charge], refuse: Sequence[bool] = ()) -> Admission:
        """Admission write by write, in order (BatchWriteItem): those that fit go, the rest do not.

        ``refuse`` marks writes refused whatever the capacity (an injected fault): they take nothing.
        """
        with self._lock:
            now = self._clock()
            admitted, throttles = [], []
            for index, charge in enumerate(charges):
                if index < len(refuse) and refuse[index]:
                    throttle: Throttle | None = Throttle(charge.table, TABLE_PROVISIONED)
                else:
                    throttle = self._refusal([charge], now) if self.enforce else None
                if throttle is None:
                    self._take(charge, now)
                elif throttle not in throttles:
                    throttles.append(throttle)
                admitted.append(throttle is None)
            return Admission(now, tuple(charges), tuple(admitted), tuple(throttles))

    def refuse(self, charges: Sequence[Charge]) -> Admission:
        """A request refused whatever the capacity (an injected throttle): nothing is taken."""
        with self._lock:
            throttles = tuple(Throttle(table, TABLE_PROVISIONED) for table in _by_table(charges))
            return Admission(self._clock(), tuple(charges), (False,) * len(charges), throttles)

    def settle(self, admission: Admission, *, charged: bool = True) -> None:
        """Record a request in the second it was admitted; uncharged units go back to the limiter."""
        with self._lock:
            if not charged:
                for charge in admission.accepted:
                    self._refund(charge, admission.at)
            accepted = admission.accepted if charged else ()
            self._record(admission.at, accepted, admission.throttled, admission.charges)
            for throttle in admission.throttles:
                self._state(throttle.table).reasons[throttle.reason] += 1

    def stats(self, last_seconds: int = 300) -> dict[str, Any]:
        """A JSON-ready reading: settings, and per table its limits, totals, peaks and series."""
        with self._lock:
            now = self._clock()
            empty = TableLedger(self._retention)
            tables = {
                table: self._with_capacities(
                    table, {**self._limits(table, now), **self._ledgers.get(table, empty).as_dict(now, last_seconds)}
                )
                for table in sorted(self._ledgers.keys() | self._capacity.keys() | self._learned())
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
        """Forget the recorded seconds, totals and throttle reasons (capacities stay)."""
        with self._lock:
            self._ledgers.clear()
            for state in self._tables.values():
                state.reasons.clear()

    def _learned(self) -> set[str]:
        return {table for table, state in self._tables.items() if state.spec is not None}

    def _limits(self, table: str, now: float) -> dict[str, Any]:
        state = self._state(table)
        on_demand = state.on_demand
        mode = "on-demand" if on_demand else ("unlimited" if self._capacity_of(table) is None else "provisioned")
        return {
            "capacity": self._capacity_of(table),
            "mode": mode,
            "burst_credit": state.limiter.credit(now) if mode == "provisioned" else 0,
            "instant_capacity": on_demand.instant_capacity(now) if on_demand else None,
            "max_write_units": on_demand.max_units if on_demand else None,
            "partitions": self._partition_count(state, now),
            "throttle_reasons": dict(state.reasons),
        }

    def _with_capacities(self, table: str, reading: dict[str, Any]) -> dict[str, Any]:
        """Each second of the series gets ``capacity``: the highest WCU in force during it (None:
        unlimited or on-demand), so a reader can check every second against the capacity of then."""
        state = self._tables.get(table)
        changes = state.capacities if state is not None else []
        for entry in reading["series"]:
            entry["capacity"] = _capacity_during(changes, entry["second"])
        reading["scaling_activities"] = list(state.activities) if state is not None else []
        return reading

    def _capacity_of(self, table: str) -> int | None:
        if table in self._capacity:
            return self._capacity[table]
        state = self._tables.get(table)
        spec = state.spec if state is not None else None
        if spec is not None and spec.on_demand:
            return None
        if spec is not None and spec.write_capacity is not None:
            return spec.write_capacity
        return self._default_capacity

    def _state(self, table: str) -> _Table:
        state = self._tables.get(table)
        if state is None:
            limiter = CapacityLimiter(self._capacity_of(table), self.burst_seconds, self._clock)
            state = self._tables[table] = _Table(limiter)
            self._apply(table)
        return state

    def _apply(self, table: str) -> None:
        """Bring the table's limiters in line with its capacity and mode."""
        state = self._tables.get(table)
        if state is None:
            return  # made when first used, from the settings of then
        spec = state.spec
        if table not in self._capacity and spec is not None and spec.on_demand:
            if state.on_demand is None:
                peak = max(ON_DEMAND_INITIAL_PEAK_WRU, state.highest_wcu // 2)
                state.on_demand = OnDemandLimiter(self._clock, spec.max_write_units, previous_peak=peak)
            state.on_demand.max_units = spec.max_write_units
            self._note_capacity(state, None)
            return
        state.on_demand = None
        wcu = self._capacity_of(table)
        self._note_capacity(state, wcu)
        state.limiter.set_capacity(wcu)
        state.highest_wcu = max(state.highest_wcu, wcu or 0)

    def _note_capacity(self, state: _Table, wcu: int | None) -> None:
        if not state.capacities or state.capacities[-1][1] != wcu:
            state.capacities.append((self._clock(), wcu))
            del state.capacities[: -self._retention]  # bounded: the series never reaches further back

    def _partition_count(self, state: _Table, now: float) -> int:
        if state.spec is None or state.spec.hash_key is None:
            return 0
        if state.on_demand is not None:
            return math.ceil(state.on_demand.instant_capacity(now) / PARTITION_WCU)
        wcu = state.limiter.capacity
        return 0 if wcu is None else provisioned_partitions(wcu, state.spec.read_capacity)

    def _partition(self, charge: Charge, now: float) -> CapacityLimiter | None:
        state = self._state(charge.table)
        count = self._partition_count(state, now)
        if charge.key is None or count == 0:
            return None
        if len(state.partitions) != count:  # re-partitioned: every partition starts a fresh second
            state.partitions = [CapacityLimiter(PARTITION_WCU, 0, self._clock) for _ in range(count)]
        return state.partitions[partition_of(charge.key, count)]

    def _refusal(self, charges: Sequence[Charge], now: float) -> Throttle | None:
        """The first limit these writes together would exceed, or None when they all fit."""
        for table, units in _by_table(charges).items():
            state = self._state(table)
            if state.on_demand is not None:
                reason = state.on_demand.refusal(units, now)
                if reason is not None:
                    return Throttle(table, reason)
                continue
            available = state.limiter.available(now)
            if available is not None and units > available:
                return Throttle(table, TABLE_PROVISIONED)
        needed: dict[int, tuple[str, CapacityLimiter, int]] = {}
        for charge in charges:
            partition = self._partition(charge, now)
            if partition is not None:
                _, _, units = needed.get(id(partition), (charge.table, partition, 0))
                needed[id(partition)] = (charge.table, partition, units + charge.units)
        for table, partition, units in needed.values():
            available = partition.available(now)
            if available is not None and units > available:
                return Throttle(table, KEY_RANGE)
        return None

    def _take(self, charge: Charge, now: float) -> None:
        if not self.enforce:
            return
        state = self._state(charge.table)
        if state.on_demand is not None:
            state.on_demand.take(charge.units, now)
        else:
            state.limiter.try_acquire(charge.units, now)
        partition = self._partition(charge, now)
        if partition is not None:
            partition.try_acquire(charge.units, now)

    def _refund(self, charge: Charge, now: float) -> None:
        state = self._state(charge.table)
        if state.on_demand is not None:
            state.on_demand.refund(charge.units)
        else:
            state.limiter.refund(charge.units)
        partition = self._partition(charge, now)
        if partition is not None:
            partition.refund(charge.units)

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
