"""Rate control: a token bucket on write units, and an AIMD controller that shrinks it on throttling.

Time and sleep are injected, so tests drive both with a fake clock instead of sleeping
(the shape of botocore's ``retries/bucket.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class DeadlineReached(Exception):
    """Waiting for budget would run past the invocation's deadline: hand the rest back to SQS."""


class TokenBucket:
    """Write units at ``rate`` per second, with at most ``burst`` units saved up.

    A caller reserves its units up front (the balance may go negative) and sleeps until the
    reservation is covered, so concurrent callers are served in order and the long-run rate
    never exceeds ``rate``. The bucket starts empty: a fresh execution cannot burst.
    """

    def __init__(self, rate: float, burst: float, clock: Clock, sleep: Sleep) -> None:
        if rate <= 0 or burst < 0:
            raise ValueError("rate must be > 0 and burst >= 0")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = 0.0
        self._stamp = clock()
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float, burst: float | None = None) -> None:
        """Change the rate from now on (what is already saved up is kept, capped at the burst)."""
        if rate <= 0:
            raise ValueError("rate must be > 0")
        with self._lock:
            self._refill()
            self._rate = rate
            if burst is not None:
                self._burst = burst
            self._tokens = min(self._tokens, self._burst)

    def acquire(self, units: float, deadline: float) -> float:
        """Take ``units``, sleeping as needed; return the seconds waited.

        Raises ``DeadlineReached`` (and takes nothing) if the wait would end after ``deadline``
        (a value of the injected clock).
        """
        with self._lock:
            self._refill()
            wait = max(0.0, (units - self._tokens) / self._rate)
            if self._clock() + wait > deadline:
                raise DeadlineReached(f"{units} units would need {wait:.2f}s of budget")
            self._tokens -= units
        if wait > 0:
            self._sleep(wait)
        return wait

    def refund(self, units: float) -> None:
        """Give back units the table refused (a throttled request consumes nothing): the budget is
        spent on what the table took, so throttles do not lower the long-run rate below ``rate``."""
        with self._lock:
            self._refill()
            self._tokens = min(self._burst, self._tokens + units)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now


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
