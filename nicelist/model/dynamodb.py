"""The table's write capacity over time, as fluid units per tick: the meter's rules (``nicelist.local.
meter.tables``, where each is cited from the DynamoDB Developer Guide) for any tick length, plus
auto scaling, which the meter does not run.

- Provisioned: ``capacity`` WCU a second; unused capacity banks as burst credit up to
  ``BURST_SECONDS`` (300) x capacity and is spent on seconds above it ("Burst capacity").
- Partitions: ``provisioned_partitions`` of them, each at most ``PARTITION_WCU`` (1,000) a second; with
  evenly spread keys the table's own capacity binds first, a hot key's share of the writes
  (``hot_key_share``) makes one partition bind at 1,000 / share ("Partitions and data distribution").
- On-demand: double the previous peak at once, the peak counting once it is 30 minutes old, starting
  from 2,000 (4,000 WRU/s for a new table) or half the warm throughput; never past
  ``MaxWriteRequestUnits`` ("On-demand capacity mode", "DynamoDB maximum throughput").
- Auto scaling ("Managing throughput capacity automatically with DynamoDB auto scaling" and the
  knowledge-centre article "Why isn't DynamoDB auto scaling working?"): a target-tracking policy on
  consumed WCU; it scales out once consumption stays above the target utilization for 2 consecutive
  minutes, to consumed / target, and in once it stays 20 points below the target for 15 consecutive
  minutes; the new capacity takes ``update_seconds`` to apply (UpdateTable: the table stays ACTIVE
  and keeps its old capacity meanwhile). Cooldowns default to 0 for DynamoDB (Application Auto
  Scaling, "Target tracking scaling policies").
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from nicelist.local.meter.tables import (
    BURST_SECONDS,
    ON_DEMAND_INITIAL_PEAK_WRU,
    ON_DEMAND_PEAK_WINDOW_SECONDS,
    PARTITION_WCU,
    provisioned_partitions,
)

SCALE_OUT_MINUTES = 2
SCALE_IN_MINUTES = 15
SCALE_IN_MARGIN = 0.20


@dataclass(frozen=True, slots=True)
class AutoScaling:
    minimum: int
    maximum: int
    target: float = 0.70  # target utilization (the console's default)
    update_seconds: float = 60.0  # not documented as a number: an assumption, see the README
    scale_out_cooldown: float = 0.0
    scale_in_cooldown: float = 0.0


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Provisioned ``capacity`` WCU (optionally auto scaled), or on-demand with ``max_units``."""

    capacity: int = 100
    on_demand: bool = False
    max_units: int | None = None
    warm_units: int | None = None  # WarmThroughput.WriteUnitsPerSecond; on-demand: what it takes at once
    burst_seconds: float = BURST_SECONDS
    initial_credit: float = 0.0  # burst credit banked at time 0 (a table idle before the run has some)
    hot_key_share: float = 0.0  # the share of writes going to the busiest key (0: evenly spread)
    autoscaling: AutoScaling | None = None


@dataclass(slots=True)
class Table:
    """The table's state: admits offered units tick by tick."""

    spec: TableSpec
    capacity: float = 0.0
    credit: float = 0.0
    _peak: float = 0.0
    _recent: deque[tuple[float, float]] = field(default_factory=deque)
    _minutes: list[float] = field(default_factory=list)  # consumed per completed minute
    _minute_units: float = 0.0
    _minute_end: float = 60.0
    _pending: tuple[float, float] | None = None  # (applies at, new capacity)
    _last_scale: float = -math.inf

    def __post_init__(self) -> None:
        spec = self.spec
        self.capacity = float(spec.capacity)
        self.credit = min(spec.initial_credit, spec.burst_seconds * spec.capacity)
        warm = spec.warm_units / 2 if spec.warm_units else 0.0
        self._peak = max(float(ON_DEMAND_INITIAL_PEAK_WRU), warm)

    def limit(self, dt: float) -> float:
        """Units the table admits over the next ``dt`` seconds."""
        spec = self.spec
        if spec.on_demand:
            rate = 2 * self._peak
            if spec.max_units is not None:
                rate = min(rate, spec.max_units)
            return rate * dt
        return self.capacity * dt + self.credit

    def partition_limit(self, dt: float) -> float:
        """What the busiest partition lets through, as table-wide units over ``dt``."""
        spec = self.spec
        partitions = (
            max(1, math.ceil(2 * self._peak / PARTITION_WCU))
            if spec.on_demand
            else provisioned_partitions(int(self.capacity))
        )
        busiest = max(1 / partitions, spec.hot_key_share)
        return PARTITION_WCU * dt / busiest

    def admit(self, offered: float, now: float, dt: float) -> float:
        """Admit up to ``offered`` units over [now, now + dt); returns what the table took."""
        taken = min(offered, self.allowance(now, dt))
        self.consume(taken, now, dt)
        return taken

    def allowance(self, now: float, dt: float) -> float:
        """All the table admits over [now, now + dt); then ``consume`` what was taken of it."""
        self._apply_pending(now)
        return min(self.limit(dt), self.partition_limit(dt))

    def consume(self, taken: float, now: float, dt: float) -> None:
        if self.spec.on_demand:
            self._on_demand_roll(now, taken / dt)
        else:
            budget = self.capacity * dt
            self.credit = min(self.spec.burst_seconds * self.capacity, self.credit + budget - taken)
            self.credit = max(0.0, self.credit)
        self._count(now + dt, taken)

    def _on_demand_roll(self, now: float, rate: float) -> None:
        self._recent.append((now, rate))
        while self._recent and self._recent[0][0] <= now - ON_DEMAND_PEAK_WINDOW_SECONDS:
            self._peak = max(self._peak, self._recent.popleft()[1])

    def _apply_pending(self, now: float) -> None:
        if self._pending is not None and now >= self._pending[0]:
            self.capacity = self._pending[1]
            self.credit = min(self.credit, self.spec.burst_seconds * self.capacity)
            self._pending = None

    def _count(self, end: float, units: float) -> None:
        """Per-minute consumption, and the auto scaling decision at each minute's end."""
        self._minute_units += units
        while end >= self._minute_end - 1e-9:
            self._minutes.append(self._minute_units / 60)
            self._minute_units = 0.0
            self._scale(self._minute_end)
            self._minute_end += 60.0

    def _scale(self, now: float) -> None:
        policy = self.spec.autoscaling
        if policy is None or self.spec.on_demand or self._pending is not None:
            return
        wanted = scaling_decision(self._minutes, self.capacity, policy)
        cooldown = policy.scale_out_cooldown if wanted and wanted > self.capacity else policy.scale_in_cooldown
        if wanted is not None and now - self._last_scale >= cooldown:
            self._pending = (now + policy.update_seconds, wanted)
            self._last_scale = now


def scaling_decision(minutes: list[float], capacity: float, policy: AutoScaling) -> float | None:
    """Target tracking on consumed WCU per minute: the new capacity, or None to keep it."""
    if len(minutes) >= SCALE_OUT_MINUTES and all(m > policy.target * capacity for m in minutes[-SCALE_OUT_MINUTES:]):
        wanted = min(policy.maximum, math.ceil(max(minutes[-SCALE_OUT_MINUTES:]) / policy.target))
        return float(wanted) if wanted > capacity else None
    low = (policy.target - SCALE_IN_MARGIN) * capacity
    if len(minutes) >= SCALE_IN_MINUTES and all(m < low for m in minutes[-SCALE_IN_MINUTES:]):
        wanted = max(policy.minimum, math.ceil(max(minutes[-SCALE_IN_MINUTES:]) / policy.target))
        return float(wanted) if wanted < capacity else None
    return None
