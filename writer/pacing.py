"""Pacing: the one object that decides when this execution may write, and how fast.

The table-wide budget ``W`` (WCU/s) is shared by ``C`` concurrent executions, both read from SSM
(``writer.budget``). ``Pacer`` is the only place the share ``W / C`` is computed (``share_of``),
refreshed, spent (``take``) and cut on a throttle (``on_throttle``): like botocore's
``ClientRateLimiter`` (``retries/adaptive.py``), it owns its rate limiter (a ``SecondBudget``: at most
the share in any one wall-clock second, the seconds the table counts) and its AIMD controller, and
nobody else sets the limiter's rate. ``writer.table`` only turns a request into an
outcome and asks the pacer before each attempt.

With a ``LiveShare`` (``writer.share``, the default in the Lambda) the divisor is not ``C`` but the
executions running now, read from their leases and clamped to ``1..C``: while Lambda's pollers ramp
up, the few executions running use what the idle ones do not, and the total still never exceeds
``W`` (the argument is in ``writer.share``). Before each reservation the pacer lets the share join,
renew and re-read as due, waits out a newcomer's join time, reserves at most ``lead_seconds`` ahead,
and charges the lease writes to its own budget.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Protocol

from writer.ratelimit import AimdController, Clock, DeadlineReached, SecondBudget, Sleep, TooFarAhead
from writer.share import LiveShare

# A gentle cut (botocore adaptive's beta) and a fast climb back: the ceiling W is known and most
# throttles are one request too many, not a collapsed table; repeated throttles still compound
# (0.9^n, at most one cut a second).
AIMD_DECREASE = 0.9
AIMD_INCREASE_PER_SECOND = 0.3


class BudgetSource(Protocol):
    """Where ``W`` and ``C`` come from (``writer.budget.BudgetParameters``: SSM with fallbacks)."""

    def table_rate(self) -> float: ...

    def executions(self) -> int: ...

    def last_known(self) -> tuple[float, int]: ...


def share_of(table_rate: float, executions: int) -> float:
    """This execution's WCU/s: the table-wide budget divided by the executions that share it."""
    return table_rate / executions


class Pacer:
    """This execution's share of the budget, spent second by second and scaled by AIMD.

    ``clock`` must count epoch seconds (``time.time``): the limiter's seconds are the table's. Each
    second grants at most share x fraction units, spread evenly over it; an
    execution idle for part of a second may catch up on ``burst_seconds`` of the share within that
    second, so the poller's gap between two invocations is not lost, but nothing is carried into
    the next second. Units the table refused (throttled) are not refunded: the table refuses when
    its second is full, and a second's units cannot be spent after it, by us or by the table.
    Time, sleep and randomness are injected; ``budget_sleep`` (default ``sleep``) waits for budget,
    ``sleep`` for backoff.
    """

    def __init__(
        self,
        budget: BudgetSource,
        *,
        clock: Clock,
        sleep: Sleep,
        rng: random.Random,
        burst_seconds: float = 0.0,
        budget_sleep: Sleep | None = None,
        controller: AimdController | None = None,
        backoff_base: float = 0.05,
        backoff_cap: float = 2.0,
        live: LiveShare | None = None,
    ) -> None:
        self.budget = budget
        self.clock = clock
        self._sleep = sleep
        self._rng = rng
        self._burst_seconds = burst_seconds
        self._controller = controller or AimdController(
            clock=clock, decrease=AIMD_DECREASE, increase_per_second=AIMD_INCREASE_PER_SECOND
        )
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._live = live
        self._table_rate, self._executions = budget.last_known()
        self._divisor = self._executions
        self._share = share_of(self._table_rate, self._divisor)
        self._budget_sleep = budget_sleep or sleep
        self._budget = SecondBudget(self._share, clock, self._budget_sleep, burst=self._share * burst_seconds)

    @property
    def share(self) -> float:
        """This execution's WCU/s as last refreshed (before any AIMD cut)."""
        return self._share

    @property
    def fraction(self) -> float:
        """The AIMD fraction of the share currently spent (1.0 when nothing throttles)."""
        return self._controller.fraction

    @property
    def rate(self) -> float:
        """The rate the limiter last ran at: share x fraction."""
        return self._budget.rate

    @property
    def divisor(self) -> int:
        """What ``W`` is divided by: ``C``, or with the live share the executions running now."""
        return self._divisor

    def refresh(self) -> float:
        """Re-read ``W`` and ``C`` (cached by the source) and return the new share; once per batch
        (with the live share this is also where an execution joins)."""
        self._table_rate, self._executions = self.budget.table_rate(), self.budget.executions()
        self._divisor = self._executions
        if self._live is not None:
            self._divisor = self._charge(self._live.prepare(self._executions).divisor)
        self._share = share_of(self._table_rate, self._divisor)
        return self._share

    def take(self, units: float, deadline: float) -> float | None:
        """Spend ``units`` at the current rate, waiting as needed: the seconds waited, or None (nothing
        taken) when the wait would end after ``deadline`` (a value of ``clock``)."""
        taken = self.take_prefix([units], deadline)
        return None if taken is None else taken[1]

    def take_prefix(self, sizes: Sequence[float], deadline: float) -> tuple[int, float] | None:
        """Spend the units of as many of ``sizes`` (a batch's items, in order) as fit the next second
        with room: how many items, and the seconds waited; None (nothing taken) past ``deadline``."""
        waited = 0.0
        while True:
            lead = None
            if self._live is not None:
                standing = self._live.prepare(self._executions)
                self._divisor = self._charge(standing.divisor)
                self._share = share_of(self._table_rate, self._divisor)
                pending = standing.active_at - self.clock()
                if pending > 0:  # a newcomer: every other reader has not counted it yet
                    if not self._wait(pending, deadline):
                        return None
                    waited += pending
                    continue
                lead = self._live.rule.lead_seconds
            self._budget.set_rate(self._share * self._controller.fraction, burst=self._share * self._burst_seconds)
            try:
                count, wait = self._budget.acquire_prefix(sizes, deadline, max_lead=lead)
            except DeadlineReached:
                return None
            except TooFarAhead as early:
                if not self._wait(early.seconds, deadline):
                    return None
                waited += early.seconds
                continue
            return count, waited + wait

    def _wait(self, seconds: float, deadline: float) -> bool:
        if self.clock() + seconds > deadline:
            return False
        self._budget_sleep(seconds)
        return True

    def _charge(self, divisor: int) -> int:
        """Spend the units of the lease writes ``prepare`` just made (1 WCU each, reserved after the
        fact: they delay this execution's next grants); returns ``divisor`` unchanged."""
        assert self._live is not None
        writes = self._live.take_writes()
        if writes:
            self._budget.set_rate(share_of(self._table_rate, divisor) * self._controller.fraction)
            self._budget.acquire_prefix([float(writes)], math.inf)
        return divisor

    def on_throttle(self) -> None:
        """The table throttled: cut the rate (AIMD)."""
        self._controller.on_throttle()

    def back_off(self, attempt: int, deadline: float) -> bool:
        """Full-jitter exponential backoff after failed ``attempt``; False (no wait) if it would pass
        ``deadline``."""
        delay = self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
        if self.clock() + delay > deadline:
            return False
        self._sleep(delay)
        return True
