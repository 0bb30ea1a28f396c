"""Rate control: a per-second budget of write units, and an AIMD controller that shrinks it on throttling.

Time and sleep are injected, so tests drive both with a fake clock instead of sleeping
(the shape of botocore's ``retries/bucket.py``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class DeadlineReached(Exception):
    """Waiting for budget would run past the invocation's deadline: hand the rest back to SQS."""


class TooFarAhead(Exception):
    """The grant would come more than ``max_lead`` seconds from now; nothing was taken. Retry after
    ``seconds`` (the live share prices units from a recent reading: ``writer.share``)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the grant is {seconds:.3f}s beyond the lead allowed")
        self.seconds = seconds


class SecondBudget:
    """Write units per wall-clock second: at most ``rate`` granted within any one epoch-aligned second.

    A provisioned table counts capacity in seconds (the local meter in epoch-aligned ones, with no
    burst credit by default), not in a continuous bucket: units a continuous bucket earns late in one
    second and spends early in the next (a 25-item ``BatchWriteItem``, saved-up idle time) land as
    two seconds' worth in one and are throttled, however low the long-run rate. So each second
    ``s`` has its own allowance, ``floor((s + 1) x rate) - floor(s x rate)`` whole units (a rate of
    48.5 grants 48 and 49 in turn), never more, and what a second leaves unused is lost with it,
    as the table's own capacity is.

    Within its second the allowance is spread evenly: a request starting at unit ``k`` of an
    allowance ``A`` is granted at ``s + k / A``, so no 1-second window, aligned or not, sees much more
    than ``rate`` (at most ``burst`` plus one request). A request that no longer fits its second's
    remainder takes the next second that has room, and smaller requests behind it may still fill the
    remainder (``acquire_prefix`` splits a batch there instead); one larger than a whole allowance
    takes an empty second and the ones after it. An execution idle for part of a second may catch up
    on at most ``burst`` units of that second's schedule: the poller's gap between two invocations is
    not lost, but nothing is saved beyond the second it belongs to, and a fresh execution cannot burst.

    No margin is kept for the time a request takes to reach the table: one granted at the very end
    of a second may be counted in the next, but only a unit or two of an allowance is granted that
    late. Ending each second's schedule at 0.9 s cost the demo more drain time (1.19-1.22 x ideal
    against 1.09-1.13) than those throttles do (0.05-0.09 % of units).

    A caller reserves its units up front and sleeps until its grant time, so concurrent callers
    share the allowance and the rate holds whatever the number of threads. Time (the epoch: the
    seconds the table counts) and sleep are injected.
    """

    def __init__(self, rate: float, clock: Clock, sleep: Sleep, *, burst: float = 0.0) -> None:
        if rate <= 0 or burst < 0:
            raise ValueError("rate must be > 0 and burst >= 0")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._used: dict[int, float] = {}  # second -> units reserved in it (its schedule's cursor)
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float, burst: float | None = None) -> None:
        """Change the rate from now on; what is already reserved stays where it is."""
        if rate <= 0:
            raise ValueError("rate must be > 0")
        with self._lock:
            self._rate = rate
            if burst is not None:
                self._burst = burst

    def allowance(self, second: int) -> int:
        """Whole units second ``second`` may grant at the current rate (its phase in a 1000 s cycle keeps
        the products exact in a float; the cycle's total is still floor(1000 x rate))."""
        phase = second % 1000
        return math.floor((phase + 1) * self._rate) - math.floor(phase * self._rate)

    def acquire(self, units: float, deadline: float) -> float:
        """Take ``units``, sleeping until their grant time; return the seconds waited.

        Raises ``DeadlineReached`` (and takes nothing) if the grant would come after ``deadline``
        (a value of the injected clock).
        """
        return self.acquire_prefix([units], deadline)[1]

    def acquire_prefix(
        self, sizes: Sequence[float], deadline: float, *, max_lead: float | None = None
    ) -> tuple[int, float]:
        """Take the longest prefix of ``sizes`` (one request's items, in units) that the first second
        with room for ``sizes[0]`` still holds; return how many items, and the seconds waited.

        A batch is split where its second ends rather than wait for the next one whole, so the room a
        second has left is not lost to a request too big for it. ``DeadlineReached`` as ``acquire``;
        ``TooFarAhead`` (nothing taken) when the grant would come more than ``max_lead`` seconds from now.
        """
        if not sizes:
            return 0, 0.0
        with self._lock:
            now = self._clock()
            current = math.floor(now)
            for old in [s for s in self._used if s < current]:
                del self._used[old]
            second, start = self._slot(sizes[0], now, current)
            allowance = self.allowance(second)
            count, units = 0, 0.0
            for size in sizes:
                if count and start + units + size > allowance:
                    break
                count, units = count + 1, units + size
            wait = max(0.0, second + start / allowance - now)
            if now + wait > deadline:
                raise DeadlineReached(f"{units} units would need {wait:.2f}s of budget")
            if max_lead is not None and wait > max_lead:
                raise TooFarAhead(wait - max_lead)
            self._reserve(second, start, units)
        if wait > 0:
            self._sleep(wait)
        return count, wait

    def _slot(self, units: float, now: float, current: int) -> tuple[int, float]:
        """The first second with room for ``units``, and the unit its request starts at."""
        second = current
        while True:
            allowance = self.allowance(second)
            start = self._used.get(second, 0.0)
            if second == current:  # the part of this second's schedule already past, but for the burst
                start = max(start, (now - current) * allowance - self._burst)
            if allowance > 0 and start + units <= allowance:
                return second, start
            if allowance > 0 and start <= 0 and all(s <= second for s in self._used):
                return second, 0.0  # bigger than any one second: an empty one, and those after it
            second += 1

    def _reserve(self, second: int, start: float, units: float) -> None:
        """Reserve ``units`` from ``start`` in ``second``; what overflows it fills the seconds after."""
        left = start + units
        while left > 0:
            allowance = self.allowance(second)
            self._used[second] = min(left, allowance)
            left -= allowance
            second += 1


class AimdController:
    """Additive increase, multiplicative decrease of a fraction of the budget.

    On a throttle the fraction is cut by ``decrease`` (at most once per ``cooldown`` seconds, so a
    burst of throttles from one overload counts once); while writes succeed it grows back by
    ``increase_per_second``. This is TCP's rule and the one botocore's adaptive mode follows in
    spirit; AIMD is chosen over CUBIC because the ceiling (the budget) is known: recovery only
    has to climb back to it, linearly and predictably.
    """

    def __init__(
        self,
        clock: Clock,
        decrease: float = 0.5,
        increase_per_second: float = 0.1,
        floor: float = 0.05,
        cooldown: float = 1.0,
    ) -> None:
        self._clock = clock
        self._decrease = decrease
        self._increase = increase_per_second
        self._floor = floor
        self._cooldown = cooldown
        self._fraction = 1.0
        self._stamp = clock()
        self._last_cut = float("-inf")
        self._lock = threading.Lock()

    @property
    def fraction(self) -> float:
        with self._lock:
            self._grow()
            return self._fraction

    def on_throttle(self) -> float:
        with self._lock:
            self._grow()
            now = self._clock()
            if now - self._last_cut >= self._cooldown:
                self._fraction = max(self._floor, self._fraction * self._decrease)
                self._last_cut = now
            return self._fraction

    def _grow(self) -> None:
        now = self._clock()
        self._fraction = min(1.0, self._fraction + (now - self._stamp) * self._increase)
        self._stamp = now
