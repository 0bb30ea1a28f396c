"""The simulation loop: arrivals, the queue, the mapping's executions, the writer's pacing and the table,
advanced together in ticks of ``dt`` seconds.

Updates are aggregated: the queue holds cohorts (``nicelist.model.sqs``), each lane holds one batch
as write units still to write (numpy arrays, one slot per lane), and the table admits units per tick
(``nicelist.model.dynamodb``). A lane is one execution up to 64 of them, else ``C / 64`` identical
executions working in step; and when batches are short against the writer's timeout, a lane takes
several at once (as many as fill the timeout: the same units, overheads and invocations, counted as
that many batches), so the loop's work does not grow with the number of batches.

A tick of 1 s matches the meter's seconds (the local check); a day runs at 60 s
(``tests/unit/test_model_sim.py`` checks that the resolution moves the drain time by less than 2 %).
Nothing is simulated update by update, so 1.8 billion updates take the same time as 18,000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nicelist.local.config import SQS_MAX_WAIT_SECONDS
from nicelist.model.arrivals import Profile
from nicelist.model.dynamodb import Table, TableSpec
from nicelist.model.mapping import Mapping
from nicelist.model.sqs import RECEIVE_MAX_MESSAGES, Cohort, Queue, return_backoff
from nicelist.model.writer import JOIN_SECONDS, LEASE_SECONDS, WriterSpec, aimd_over, execution_rate, lost_to_overhead

DEFER_UPDATES_PER_MESSAGE = 1000  # contract.envelope's max_updates_per_envelope for deferrals
RETURN_BACKOFF_BASE = 2.0
RETURN_BACKOFF_CAP = 300.0
LONG_POLL_SECONDS = SQS_MAX_WAIT_SECONDS  # the poller's ReceiveMessage wait (long polling)
PASSES = 4  # batches a lane may start within one tick
MAX_LANES = 64  # executions are identical: above this many, each lane stands for C / 64 of them
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Scenario:
    profile: Profile
    mapping: Mapping
    writer: WriterSpec
    table: TableSpec
    dt: float = 1.0
    horizon: float = 7 * 86400.0  # give up after this long (the answer is then "never")
    spike_start: float = 0.0  # drain time counts from here


@dataclass(slots=True)
class Series:
    """One row per tick."""

    time: list[float] = field(default_factory=list)
    backlog: list[float] = field(default_factory=list)  # updates not yet written
    oldest_age: list[float] = field(default_factory=list)  # seconds, the oldest unwritten update
    written: list[float] = field(default_factory=list)  # WCU/s the table took
    throttled: list[float] = field(default_factory=list)  # WCU/s it refused
    capacity: list[float] = field(default_factory=list)  # WCU/s it had
    running: list[int] = field(default_factory=list)  # executions holding a batch


@dataclass(slots=True)
class Result:
    scenario: Scenario
    series: Series
    last_write: float  # end of the last tick that wrote (inf: not drained within the horizon)
    units: float
    throttled_units: float
    batches: int
    execution_seconds: float  # executions holding a batch, summed (Lambda duration)
    wcu_seconds: float  # provisioned capacity held, summed
    redriven_updates: float
    deferred_updates: float

    @property
    def drained(self) -> bool:
        return math.isfinite(self.last_write)

    @property
    def drain_seconds(self) -> float:
        return self.last_write - self.scenario.spike_start

    @property
    def throttled_share(self) -> float:
        offered = self.units + self.throttled_units
        return self.throttled_units / offered if offered else 0.0

    @property
    def peak_written(self) -> float:
        return max(self.series.written, default=0.0)

    @property
    def peak_offered(self) -> float:
        return max((w + t for w, t in zip(self.series.written, self.series.throttled, strict=True)), default=0.0)

    @property
    def peak_age(self) -> float:
        return max(self.series.oldest_age, default=0.0)

    @property
    def peak_running(self) -> int:
        return max(self.series.running, default=0)


def simulate(scenario: Scenario) -> Result:
    return _Loop(scenario).run()


class _Loop:
    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.queue = Queue()
        self.table = Table(scenario.table)
        n = min(scenario.mapping.ceiling, MAX_LANES)
        self.group = scenario.mapping.ceiling / n  # executions per lane
        self.rem = np.zeros(n)  # units still to write of the batch held
        self.start_units = np.zeros(n)
        self.left = np.zeros(n)  # seconds to the batch's deadline
        self.wait = np.zeros(n)  # overhead still to pass before the first write
        self.slow = np.ones(n)  # the share of a lane's time its batches' later overheads leave for writing
        self.born = np.full(n, math.inf)
        self.messages = np.zeros(n)
        self.receives = np.zeros(n, dtype=int)
        self.busy = np.zeros(n, dtype=bool)
        self.idle_since = np.full(n, -math.inf)  # when each lane's last batch ended (-inf: never ran)
        self.fraction = 1.0
        self._demand = 0.0  # WCU/s the writers would send at a fraction of 1 (last tick's)
        self.ramp = scenario.mapping.start(0.0)
        self.level = scenario.mapping.running(self.ramp)
        self._empty_since = 0.0  # since when free lanes have found the queue empty
        self._received: int | None = None  # messages the last tick's receives brought (None: no receive)
        self.series = Series()
        self.totals = {"units": 0.0, "throttled": 0.0, "exec": 0.0, "wcu": 0.0, "deferred": 0.0}
        self.batches = 0
        self.last_write = math.inf

    def run(self) -> Result:
        s, dt = self.s, self.s.dt
        k = 0
        while True:
            now = k * dt
            if now > s.horizon:
                break
            arrived = s.profile.arrived_before(now + dt) - s.profile.arrived_before(now)
            packing = s.profile.packing(now) or s.writer.updates_per_message
            self.queue.arrive(now, arrived / packing, arrived)
            self.queue.release(now)
            self._ramp(now)
            self._tick(now)
            k += 1
            if now + dt >= s.profile.end and not self.busy.any() and self.queue.updates < 0.5:
                break
        if self.busy.any() or self.queue.updates >= 0.5:
            self.last_write = math.inf  # the horizon came first
        t = self.totals
        return Result(s, self.series, self.last_write, t["units"], t["throttled"], self.batches, t["exec"],
                      t["wcu"], self.queue.redriven_updates, t["deferred"])  # fmt: skip

    def _ramp(self, now: float) -> None:
        """The mapping's target, advanced by the receives of the last tick."""
        self.ramp = self.s.mapping.advance(self.ramp, now, self._received)
        self.level = self.s.mapping.running(self.ramp)
        self._received = None

    def _batch_messages(self) -> int:
        """With no batching window the poller returns after one receive: at most 10 messages."""
        mapping = self.s.mapping
        return mapping.batch_size if mapping.batching_window > 0 else min(mapping.batch_size, RECEIVE_MAX_MESSAGES)

    def _tick(self, now: float) -> None:
        """One tick: lanes that finish a batch early in it take the next one within it (up to PASSES)."""
        dt = self.s.dt
        allowance = self.table.allowance(now, dt)
        start = self.fraction
        self.fraction = aimd_over(start, self._demand, allowance / dt, dt)[0]  # what this tick writes at
        avail = np.full(len(self.busy), float(dt))
        offered = taken = 0.0
        running = round(self.busy.sum() * self.group)
        for _ in range(PASSES):
            self._take(avail, now + dt)
            active = self.busy & (avail > _EPS)
            if not active.any():
                break
            running = max(running, round(self.busy.sum() * self.group))
            o, t = self._write(active, avail, allowance - taken)
            offered, taken = offered + o, taken + t
            self._settle(now + dt)
        self.table.consume(taken, now, dt)
        if offered:
            self._demand = offered / dt / self.fraction
        self.fraction = aimd_over(start, self._demand if offered else 0.0, allowance / dt, dt)[1]
        if taken > _EPS:
            self.last_write = now + dt
        self._record(now, offered, taken, running)

    def _take(self, avail: np.ndarray, end: float) -> None:
        writer, mapping, group = self.s.writer, self.s.mapping, self.group
        lanes = math.ceil(self.level / group - _EPS)
        free = np.flatnonzero(~self.busy[:lanes] & (avail[:lanes] > _EPS))
        if not len(free):
            return
        if not self.queue.visible:
            # a long poll returns empty only after its wait with nothing arriving: then the ramp steps down
            if end - self._empty_since >= LONG_POLL_SECONDS:
                self._received = self._received or 0
                self._empty_since = end
            return
        self._empty_since = end
        size = self._batch_messages()
        rate = execution_rate(writer, max(1, self.level), 1.0)  # what each will write once all allowed run
        overhead = lost_to_overhead(writer, rate)
        # no lane takes more than its part of what is visible: the others would have taken the rest
        part = max(size * group, self.queue.visible_messages / max(1, lanes))
        for i in free:
            cohort, count = self._super_batch(size, rate, overhead, part)
            if cohort is None:
                break
            partial = cohort.messages < size * group - _EPS
            self.busy[i] = True
            self.rem[i] = self.start_units[i] = cohort.updates * writer.units_per_update
            self.left[i] = writer.usable_seconds * math.ceil(count)
            # the first batch's overhead before its writes; the others' spread between them, as a slower rate
            writing = cohort.updates / group * writer.units_per_update / rate
            self.slow[i] = writing / (writing + overhead * (math.ceil(count) - 1)) if writing > 0 else 1.0
            self.wait[i] = overhead + (mapping.batching_window if partial else 0.0)
            self.wait[i] += self._join(int(i), end - avail[i])
            self.born[i] = cohort.born
            self.messages[i] = cohort.messages
            self.receives[i] = cohort.receives
            self.batches += math.ceil(count * group)
            self._received = (self._received or 0) + math.ceil(cohort.messages)

    def _super_batch(self, size: int, rate: float, overhead: float, part: float) -> tuple[Cohort | None, float]:
        """One lane's next batches, taken while they fill less than a timeout (or a tick) and hold at
        most ``part`` messages, sized cohort by cohort (each has one density of updates per message):
        one cohort for them all, and how many batches (per execution) it stands for."""
        writer, group = self.s.writer, self.group
        fill = max(writer.usable_seconds, self.s.dt)
        per_batch = size * group  # messages of one batch for each execution of the lane
        merged: Cohort | None = None
        seconds = 0.0
        while seconds < fill and self.queue.visible:
            head = self.queue.visible[0]
            density = head.updates / head.messages if head.messages else 0.0
            batch_seconds = overhead + size * density * writer.units_per_update / rate
            if merged is not None and seconds + batch_seconds > fill:
                break
            batches = (
                max(1, math.floor((fill - seconds) / batch_seconds)) if batch_seconds < writer.usable_seconds else 1
            )
            wanted = min(batches * per_batch, max(per_batch, part - (merged.messages if merged else 0.0)))
            # within the head cohort the estimate is exact; a first batch may still span cohorts
            batch = self.queue.take(min(wanted, head.messages if merged is not None else max(per_batch, head.messages)))
            if batch is None:
                break
            seconds += batch.messages / per_batch * batch_seconds
            if merged is None:
                merged = batch
            else:
                merged = Cohort(min(merged.born, batch.born), merged.messages + batch.messages,
                                merged.updates + batch.updates, max(merged.receives, batch.receives))  # fmt: skip
            if batch_seconds >= writer.usable_seconds or merged.messages >= part - 1e-9:
                break
        count = max(1.0, merged.messages / per_batch) if merged is not None else 0.0
        return merged, count

    def _join(self, lane: int, now: float) -> float:
        """Live share: a lane whose lease lapsed waits ``JOIN_SECONDS`` unless it is the only one running."""
        if self.s.writer.share_mode != "live" or now - self.idle_since[lane] <= LEASE_SECONDS:
            return 0.0
        others = int(self.busy.sum()) - 1
        return JOIN_SECONDS if others > 0 else 0.0

    def _write(self, active: np.ndarray, avail: np.ndarray, allowance: float) -> tuple[float, float]:
        """Each active lane spends its time left in the tick: overhead first, then writes at its rate."""
        running = round(self.busy.sum() * self.group)
        rate = execution_rate(self.s.writer, running, self.fraction) * self.group
        overhead = np.minimum(self.wait, avail) * active
        rates = rate * self.slow
        offered_each = np.minimum(self.rem, rates * (avail - overhead)) * active
        offered = float(offered_each.sum())
        taken = min(offered, max(0.0, allowance))
        if offered > 0:
            self.rem -= offered_each * (taken / offered)
        unfinished = self.rem > 1e-6
        used = np.where(unfinished, avail, overhead + offered_each / rates) * active
        self.wait -= overhead
        self.left -= used
        avail -= used
        self.totals["exec"] += float(used.sum()) * self.group
        return offered, taken

    def _record(self, now: float, offered: float, taken: float, running: int) -> None:
        dt, t, series = self.s.dt, self.totals, self.series
        t["units"] += taken
        t["throttled"] += offered - taken
        t["wcu"] += self.table.capacity * dt
        queued = self.queue.updates + float(self.rem[self.busy].sum()) / self.s.writer.units_per_update
        oldest = min(self.queue.oldest(), float(self.born.min()))
        series.time.append(now)
        series.backlog.append(queued)
        series.oldest_age.append(max(0.0, now + dt - oldest) if math.isfinite(oldest) else 0.0)
        series.written.append(taken / dt)
        series.throttled.append((offered - taken) / dt)
        series.capacity.append(self.table.limit(1.0) if self.s.table.on_demand else self.table.capacity)
        series.running.append(running)

    def _settle(self, now: float) -> None:
        busy = self.busy
        done = busy & (self.rem <= 1e-6)
        for i in np.flatnonzero(busy & ~done & (self.left <= _EPS)):
            self._deadline(int(i), now)
        done |= busy & (self.left <= _EPS)
        busy &= ~done
        self.idle_since[done] = now
        self.rem[done] = 0.0
        self.wait[done] = 0.0
        self.born[done] = math.inf

    def _deadline(self, i: int, now: float) -> None:
        """The writer's deadline with units left: defer what is left, or return a batch that made no progress."""
        writer, queue = self.s.writer, self.queue
        updates = self.rem[i] / writer.units_per_update
        last_chance = self.receives[i] >= queue.max_receive_count - 1
        if self.rem[i] < self.start_units[i] - _EPS or last_chance:
            messages = max(1.0, math.ceil(updates / DEFER_UPDATES_PER_MESSAGE))
            queue.put_back(Cohort(float(self.born[i]), messages, updates), now)
            self.totals["deferred"] += updates
            return
        receives = int(self.receives[i])
        cohort = Cohort(float(self.born[i]), float(self.messages[i]), updates, receives)
        queue.put_back(cohort, now + return_backoff(receives, RETURN_BACKOFF_BASE, RETURN_BACKOFF_CAP))
