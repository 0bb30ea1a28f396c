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
- Auto scaling: the meter's own rule, reused (``nicelist.local.meter.autoscaling.TargetTracking``,
  with its sources): per minute of consumed WCU, out after 2 minutes above the target utilization, in
  after 15 minutes 20 points below it, to ``ceil(consumed / target)`` within the bounds, cooldowns
  (0 by default for DynamoDB). The new capacity applies after ``update_seconds`` (0, as the meter
  does; a real UpdateTable keeps the old capacity for the minutes it takes: raise it to see that).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from nicelist.local.meter.autoscaling import ScalingPolicy, TargetTracking
from nicelist.local.meter.tables import (
    BURST_SECONDS,
    ON_DEMAND_INITIAL_PEAK_WRU,
    ON_DEMAND_PEAK_WINDOW_SECONDS,
    PARTITION_WCU,
    provisioned_partitions,
)


@dataclass(frozen=True, slots=True)
class AutoScaling:
    minimum: int
    maximum: int
    target: float = 0.70  # target utilization (the console's default)
    update_seconds: float = 0.0  # from the decision to the new capacity (the meter: at once)
    scale_out_cooldown: float = 0.0
    scale_in_cooldown: float = 0.0

    @property
    def policy(self) -> ScalingPolicy:
        return ScalingPolicy(self.minimum, self.maximum, self.target * 100, self.scale_out_cooldown,
                             self.scale_in_cooldown)  # fmt: skip


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
    _tracking: TargetTracking = field(default_factory=TargetTracking)
    _minute_units: float = 0.0
    _minute_end: float = 60.0
    _pending: tuple[float, float] | None = None  # (applies at, new capacity)

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
        self._count(now, now + dt, taken)

    def _on_demand_roll(self, now: float, rate: float) -> None:
        self._recent.append((now, rate))
        while self._recent and self._recent[0][0] <= now - ON_DEMAND_PEAK_WINDOW_SECONDS:
            self._peak = max(self._peak, self._recent.popleft()[1])

    def _apply_pending(self, now: float) -> None:
        if self._pending is not None and now >= self._pending[0]:
            self.capacity = self._pending[1]
            self.credit = min(self.credit, self.spec.burst_seconds * self.capacity)
            self._pending = None

    def _count(self, start: float, end: float, units: float) -> None:
        """Per-minute consumption (a tick's units spread evenly over the minutes it spans), and the auto
        scaling decision at each minute's end."""
        rate = units / (end - start) if end > start else 0.0
        while end >= self._minute_end - 1e-9:
            self._minute_units += rate * max(0.0, self._minute_end - start)
            start = self._minute_end
            self._scale(self._minute_end, self._minute_units / 60)
            self._minute_units = 0.0
            self._minute_end += 60.0
        self._minute_units += rate * max(0.0, end - start)

    def _scale(self, now: float, consumed: float) -> None:
        policy = self.spec.autoscaling
        if policy is None or self.spec.on_demand:
            return
        decision = self._tracking.observe(now, consumed, math.ceil(self.capacity), policy.policy)
        if decision is not None and self._pending is None:
            self._pending = (now + policy.update_seconds, float(decision.after))
