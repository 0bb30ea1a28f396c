"""The autoscaler's decisions for the writers' concurrency C (``nicelist tune --auto``): pure logic, no
I/O. ``nicelist.tuning.autoscale_run`` reads the signals and applies a decision through ``nicelist tune``'s
own rules and order (docs/tuning.md, "nicelist tune --auto").

C only decides how many executions share the budget W: each writer spends at most W / C, so more
executions never spend more than W. A raise helps only when the executions are the bottleneck: a
backlog that does not drain fast enough while the table sees well below W. A raise costs Lambda time
(executions waiting on their share), so C comes down again once the executions sit idle.

- **raise** when there is *pressure* (a backlog that is not falling, or that would take longer than
  ``drain_target`` to empty at its own pace), the budget is *unspent* (the measured write rate below
  ``spent_share`` x W), no new write throttle (the window's count not up since the last reading; any
  throttle in it for a first reading), the executions are busy (not known to be below
  ``idle_share`` x C) and the last change is ``cooldown`` old. To the executions that would spend W
  at the current pace per execution (C x W / measured), at least C + 1, at most 2 x C and ``maximum``.
- **lower** when there is no pressure and the executions sat *idle* (the queue empty, or fewer than
  ``idle_share`` x C running) for ``idle_for`` seconds without a break, and the last change is
  ``cooldown`` old. To half of C, rounded up, never below ``minimum``.
- **hold** otherwise. A C outside the bounds is brought inside them at once.

Raising needs pressure and lowering needs its absence, so under a constant signal C only ever moves
one way and stops at a bound: it cannot flap. The cooldown (default longer than the 60 s the measured
rate is averaged over) lets each decision see the effect of the last one."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from nicelist.mapping import MIN_MAXIMUM_CONCURRENCY
from nicelist.status import BacklogTrend
from writer.settings import writing_seconds

Action = Literal["raise", "lower", "hold"]
TREND_SAMPLES = 6  # the backlog's trend: a straight line through the last 6 readings


@dataclass(frozen=True, slots=True)
class Policy:
    """The controller's bounds and thresholds (``nicelist tune --auto`` options)."""

    minimum: int = MIN_MAXIMUM_CONCURRENCY  # AWS rejects a MaximumConcurrency below 2
    maximum: int = 10
    drain_target: float = 600.0  # seconds: a backlog that takes longer to empty is pressure
    spent_share: float = 0.8  # the budget is unspent below this share of W
    idle_share: float = 0.5  # executions are idle below this share of C
    idle_for: float = 300.0  # seconds of idleness, without a break, before lowering
    cooldown: float = 120.0  # seconds after a change before the next one
    batch_fit: float = 0.9  # a full batch must fit this share of an invocation's writing time at W / C

    def __post_init__(self) -> None:
        if not MIN_MAXIMUM_CONCURRENCY <= self.minimum <= self.maximum:
            raise ValueError(f"bounds {self.minimum}..{self.maximum}: need {MIN_MAXIMUM_CONCURRENCY} <= min <= max")


@dataclass(frozen=True, slots=True)
class Signals:
    """One reading of the stage. None: unknown (no such figure could be read)."""

    at: float  # seconds on a monotonic clock
    concurrency: int  # C: the executions that may run now (min(reserved, the mapping's maximum))
    backlog: int | None  # messages visible + in flight + delayed
    budget: float | None  # W, WCU/s
    measured_rate: float | None  # WCU/s reaching the table (mean of the last 60 s)
    throttles: int | None  # throttled writes in the recent window (5 minutes: nicelist.status)
    busy: float | None  # the most executions seen running over the last ``busy_window`` seconds
    busy_window: float = 0.0  # 0: an instant's reading (the local runtime's in-flight count)
    drain_seconds: float | None = None  # the backlog / the measured rate (else W): before any trend
    # A full batch in write units (batch size x updates per message x WCU per update) and the writer's
    # timeout: an execution spends at most W / C, so beyond W x timeout / batch_units writers a full batch
    # no longer fits one invocation and comes back (deferred or returned) instead of draining faster.
    batch_units: float | None = None
    timeout: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    before: int
    after: int
    reasons: tuple[str, ...]

    def line(self) -> str:
        change = f"C {self.before} -> {self.after}" if self.after != self.before else f"C {self.before}"
        return f"{self.action:<5} {change}: " + "; ".join(self.reasons)


@dataclass
class Autoscaler:
    """Decides one step at a time; remembers the backlog's trend, the idle run and the last change."""

    policy: Policy
    last_change: float | None = None
    _trend: BacklogTrend = field(default_factory=lambda: BacklogTrend(TREND_SAMPLES))
    _idle_since: float | None = None  # the start of the current unbroken run of idle readings
    _throttles: int | None = None  # the throttle count of the last reading

    def decide(self, signals: Signals) -> Decision:
        self._trend.add(signals.at, signals.backlog)
        try:
            return self._decide(signals)
        finally:
            self._throttles = signals.throttles

    def _decide(self, signals: Signals) -> Decision:
        pressure, pressure_why = self._pressure(signals)
        idle, idle_why = self._idle(signals)
        c, policy = signals.concurrency, self.policy
        if not policy.minimum <= c <= policy.maximum:
            bounded = min(max(c, policy.minimum), policy.maximum)
            action: Action = "raise" if bounded > c else "lower"
            return Decision(action, c, bounded, (f"C {c} is outside --min {policy.minimum} .. --max {policy.maximum}",))
        if pressure:
            return self._maybe_raise(signals, pressure_why)
        if idle:
            return self._maybe_lower(signals, [pressure_why, idle_why])
        return Decision("hold", c, c, (pressure_why, idle_why))

    def changed(self, at: float) -> None:
        """A decision was applied at ``at``: the cooldown starts, and idleness is counted afresh."""
        self.last_change = at
        self._idle_since = None

    def _cooling(self, at: float) -> str | None:
        if self.last_change is None or at - self.last_change >= self.policy.cooldown:
            return None
        return f"cooling down ({at - self.last_change:.0f} of {self.policy.cooldown:g} s since the last change)"

    def _pressure(self, signals: Signals) -> tuple[bool, str]:
        backlog = signals.backlog
        if backlog is None:
            return False, "backlog unknown"
        if backlog == 0:
            return False, "queue empty"
        slope = self._trend.slope()
        if slope is not None and slope >= 0:
            return True, f"backlog {backlog:,} not falling ({slope:+,.1f} messages/s)"
        seconds = backlog / -slope if slope is not None else signals.drain_seconds
        how = "at its pace" if slope is not None else "estimated"
        if seconds is None:
            return False, f"backlog {backlog:,}, time to drain unknown"
        if seconds > self.policy.drain_target:
            return True, f"backlog {backlog:,} drains in {seconds:,.0f} s {how} > target {self.policy.drain_target:g} s"
        return False, f"backlog {backlog:,} drains in {seconds:,.0f} s {how} <= target {self.policy.drain_target:g} s"

    def _maybe_raise(self, signals: Signals, pressure_why: str) -> Decision:
        c, policy = signals.concurrency, self.policy
        why = [pressure_why]
        blocked = [reason for reason in self._raise_blockers(signals) if reason]
        if not blocked:
            assert signals.measured_rate is not None and signals.budget is not None
            rate, budget = signals.measured_rate, signals.budget
            needed = 2 * c if rate <= 0 else math.ceil(min(c * budget / rate, 2.0 * c))  # a tiny rate: x 2
            after = min(policy.maximum, 2 * c, max(c + 1, needed), self._fitting(signals) or policy.maximum)
            why.append(f"budget unspent ({rate:g} of W {budget:g} WCU/s), no new throttles")
            return Decision("raise", c, after, tuple(why))
        return Decision("hold", c, c, tuple(why + blocked))

    def _raise_blockers(self, signals: Signals) -> list[str | None]:
        c, policy = signals.concurrency, self.policy
        rate, budget = signals.measured_rate, signals.budget
        unspent: str | None = None
        if rate is None or budget is None:
            unspent = "write rate or W unknown: cannot tell whether more writers would spend more"
        elif rate >= policy.spent_share * budget:
            unspent = f"budget spent ({rate:g} of W {budget:g} WCU/s): more writers would only split it further"
        busy = signals.busy
        return [
            f"at --max {policy.maximum}" if c >= policy.maximum else None,
            unspent,
            f"{signals.throttles} throttled writes: never raise while the table throttles"
            if self._throttling(signals)
            else None,
            f"executions idle ({busy:g} of C {c} busy): more would not be used"
            if busy is not None and busy < policy.idle_share * c
            else None,
            self._cooling(signals.at),
            self._no_room(signals),
        ]

    def _fitting(self, signals: Signals) -> int | None:
        """The most writers at which a full batch still fits one invocation at W / C; None: unknown."""
        units, timeout, budget = signals.batch_units, signals.timeout, signals.budget
        if not units or not timeout or not budget or units <= 0:
            return None
        writing = writing_seconds(timeout)  # the writer stops its writes its deadline margin early
        return max(1, math.floor(budget * writing * self.policy.batch_fit / units))

    def _no_room(self, signals: Signals) -> str | None:
        fitting = self._fitting(signals)
        if fitting is None or fitting > signals.concurrency:
            return None
        return (
            f"a full batch ({signals.batch_units:,.0f} WCU) fits one {signals.timeout:g} s invocation only up to "
            f"C {fitting} at W {signals.budget:g} WCU/s: more writers would defer it, not drain faster"
        )

    def _throttling(self, signals: Signals) -> bool:
        """Throttles in the window, and more of them than at the last reading (the first reading: any)."""
        count, last = signals.throttles or 0, self._throttles
        return count > 0 and (last is None or count > last)

    def _idle(self, signals: Signals) -> tuple[bool, str]:
        """Whether the executions have sat idle for ``idle_for`` without a break (and why)."""
        c, busy = signals.concurrency, signals.busy
        if busy is not None and busy < self.policy.idle_share * c:
            covered, what = signals.busy_window, f"at most {busy:g} of C {c} executions busy"
        elif signals.backlog == 0:
            covered, what = 0.0, "queue empty"
        else:
            self._idle_since = None
            return False, "executions busy" if busy is not None else "queue not empty"
        start = signals.at - covered
        self._idle_since = start if self._idle_since is None else min(self._idle_since, start)
        idle_seconds = signals.at - self._idle_since
        return idle_seconds >= self.policy.idle_for, f"{what}, idle {idle_seconds:.0f} of {self.policy.idle_for:g} s"

    def _maybe_lower(self, signals: Signals, why: list[str]) -> Decision:
        c, policy = signals.concurrency, self.policy
        blocked = [f"at --min {policy.minimum}" if c <= policy.minimum else None, self._cooling(signals.at)]
        if reasons := [reason for reason in blocked if reason]:
            return Decision("hold", c, c, tuple(why + reasons))
        return Decision("lower", c, max(policy.minimum, math.ceil(c / 2)), tuple(why))
