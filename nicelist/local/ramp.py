"""Lambda's SQS poller scaling as one pure rule: the runtime follows it, the model (issue 13) reuses it.

What AWS documents (Lambda Developer Guide, "Configuring scaling behavior for SQS event source
mappings", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html):

- standard mode: when messages are available Lambda starts with five concurrent batches (five
  concurrent invokes); while messages are still available it adds up to 300 concurrent invokes a
  minute, up to 1,250 (or the mapping's ``MaximumConcurrency``); when traffic is low it scales back to
  five (down to two only without ``MaximumConcurrency``, which this project always sets);
- provisioned mode (``ProvisionedPollerConfig``: ``MinimumPollers`` 2..200, ``MaximumPollers``
  2..2,000, API reference "ProvisionedPollerConfig"): the minimum pollers stay ready and the mapping
  scales up to 1,000 concurrent invokes a minute (AWS News Blog, "AWS Lambda enhances event
  processing with provisioned mode for SQS event-source mapping"); one poller carries up to 10
  concurrent invokes (the provisioned-mode section of "Using Lambda with Amazon SQS", as quoted by
  vendors' summaries; ``INVOKES_PER_POLLER``).

The rule, exactly (``advance`` and the closed form ``concurrency_after`` agree; tests prove it):

- ``cap`` = min(the mapping's maximum concurrency, the mode's ceiling): the pollers never exceed it.
  Reserved concurrency below it does not stop the pollers; their invokes are throttled, as on AWS.
- ``floor`` = min(the ramp's floor, ``cap``); the target starts at min(``initial``, ``cap``).
- While the backlog lasts (the last receive brought messages) the target grows by one every
  ``minute_seconds / per_minute`` seconds, up to ``cap``: after ``t`` seconds of backlog from the
  initial target, min(cap, initial + floor(t x per_minute / minute_seconds)).
- A receive that brings nothing lowers the target by one, never below ``floor`` (a poller with nothing
  to read retires), and the growth clock restarts when messages come back.

``minute_seconds`` is the time factor: 60 is AWS's minute; a local stack with C of 2-8 sees AWS's
ramp only slowed down, e.g. ``1:12`` (one invoke at first, +1 every 5 s) or ``aws`` with
``minute_seconds=3600`` (five at first, +5 a minute). AWS also slows scaling on throttles and errors
(its backoff strategy); that is not emulated.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass

STANDARD_INITIAL = 5  # concurrent batches when messages appear
STANDARD_PER_MINUTE = 300  # added per minute while messages remain
STANDARD_CEILING = 1_250  # most concurrent invokes one mapping reaches
PROVISIONED_PER_MINUTE = 1_000
INVOKES_PER_POLLER = 10
PROVISIONED_MIN_POLLERS = (2, 200)
PROVISIONED_MAX_POLLERS = (2, 2_000)
UNBOUNDED = 1_000_000  # "off": the mapping's maximum concurrency from the start


class RampError(ValueError):
    """A ramp specification that does not parse or that AWS would refuse."""


@dataclass(frozen=True, slots=True)
class PollerRamp:
    """How the mapping's concurrent invokes grow: ``initial`` at first, ``per_minute`` more each
    ``minute_seconds`` while messages remain, between ``floor`` and ``ceiling``."""

    mode: str = "off"  # off | standard | provisioned
    initial: int = UNBOUNDED
    per_minute: float = 0.0
    floor: int = UNBOUNDED
    ceiling: int = UNBOUNDED
    minute_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.mode not in {"off", "standard", "provisioned"}:
            raise RampError(f"unknown ramp mode {self.mode!r}")
        if min(self.initial, self.floor, self.ceiling) < 1:
            raise RampError("initial, floor and ceiling must be >= 1")
        if self.floor > self.initial or self.initial > self.ceiling:
            raise RampError("need floor <= initial <= ceiling")
        if not (math.isfinite(self.per_minute) and self.per_minute >= 0):
            raise RampError("the growth per minute must be a finite number >= 0")
        if not (math.isfinite(self.minute_seconds) and 0 < self.minute_seconds <= 86_400):
            raise RampError("a ramp minute must last (0, 86400] seconds")

    @property
    def step_seconds(self) -> float:
        """Seconds between two increments while messages remain (inf when it never grows)."""
        return math.inf if self.per_minute == 0 else self.minute_seconds / self.per_minute

    def bounds(self, cap: int) -> tuple[int, int]:
        """``(floor, ceiling)`` under the mapping's maximum concurrency ``cap``."""
        ceiling = max(1, min(cap, self.ceiling))
        return min(self.floor, ceiling), ceiling

    def describe(self) -> str:
        if self.mode == "off":
            return "off (maximum concurrency from the start)"
        return (
            f"{self.mode}: {self.initial} at first, +{self.per_minute:g} per {self.minute_seconds:g} s "
            f"while messages remain, floor {self.floor}, ceiling {self.ceiling}"
        )


OFF = PollerRamp()


def parse_ramp(spec: str, minute_seconds: float = 60.0) -> PollerRamp:
    """``off`` | ``aws`` | ``provisioned:MIN:MAX`` (pollers) | ``INITIAL:PER_MINUTE`` (invokes)."""
    text = spec.strip().lower()
    try:
        if text == "off":
            return OFF
        if text in {"aws", "standard"}:
            return PollerRamp(
                "standard", STANDARD_INITIAL, STANDARD_PER_MINUTE, STANDARD_INITIAL, STANDARD_CEILING, minute_seconds
            )
        match = re.fullmatch(r"provisioned:(\d{1,5}):(\d{1,5})", text, re.ASCII)
        if match:
            low, high = int(match[1]), int(match[2])
            if not PROVISIONED_MIN_POLLERS[0] <= low <= PROVISIONED_MIN_POLLERS[1]:
                raise RampError(
                    f"minimum pollers must be in {PROVISIONED_MIN_POLLERS[0]}..{PROVISIONED_MIN_POLLERS[1]}"
                )
            if not max(low, PROVISIONED_MAX_POLLERS[0]) <= high <= PROVISIONED_MAX_POLLERS[1]:
                raise RampError(f"maximum pollers must be in minimum..{PROVISIONED_MAX_POLLERS[1]}")
            ready = low * INVOKES_PER_POLLER
            return PollerRamp(
                "provisioned", ready, PROVISIONED_PER_MINUTE, ready, high * INVOKES_PER_POLLER, minute_seconds
            )
        match = re.fullmatch(r"(\d{1,5}):(\d{1,6}(?:\.\d{1,3})?)", text, re.ASCII)
        if match:
            initial = int(match[1])
            return PollerRamp("standard", initial, float(match[2]), initial, STANDARD_CEILING, minute_seconds)
    except RampError as error:
        raise RampError(f"poller ramp {spec!r}: {error}") from None
    raise RampError(f"poller ramp {spec!r}: expected off, aws, provisioned:MIN:MAX or INITIAL:PER_MINUTE")


@dataclass(frozen=True, slots=True)
class RampState:
    """The mapping's target concurrency; while messages remain (``backlog``), the target ``base`` it
    had when the backlog began at ``since`` (growth counts from there, so no rounding accumulates)."""

    target: int
    since: float
    base: int
    backlog: bool = False


def start(ramp: PollerRamp, cap: int, now: float) -> RampState:
    floor, ceiling = ramp.bounds(cap)
    initial = max(floor, min(ramp.initial, ceiling))
    return RampState(initial, now, initial)


def advance(ramp: PollerRamp, state: RampState, *, cap: int, now: float, received: int | None = None) -> RampState:
    """The state at ``now``: growth for the backlog so far, then the receive that just returned
    ``received`` messages (None: only time passed)."""
    floor, ceiling = ramp.bounds(cap)
    if ramp.mode == "off":
        return RampState(ceiling, now, ceiling, bool(received))
    target = max(floor, min(state.target, ceiling))
    if state.backlog and ramp.per_minute and now > state.since:
        grown = state.base + math.floor((now - state.since) / ramp.step_seconds)
        target = max(target, min(ceiling, grown))
    if received is None:
        return RampState(target, state.since, state.base, state.backlog)
    if received > 0:
        if state.backlog:
            return RampState(target, state.since, state.base, True)
        return RampState(target, now, target, True)
    lower = max(floor, target - 1)
    return RampState(lower, now, lower, False)


def concurrency_after(ramp: PollerRamp, seconds: float, cap: int) -> int:
    """The target after ``seconds`` of uninterrupted backlog from the initial target (the model's form)."""
    floor, ceiling = ramp.bounds(cap)
    if ramp.mode == "off":
        return ceiling
    initial = max(floor, min(ramp.initial, ceiling))
    if seconds <= 0 or ramp.per_minute == 0:
        return initial
    return min(ceiling, initial + math.floor(seconds / ramp.step_seconds))


class RampTracker:
    """The runtime's ramp: ``advance`` behind a lock, and a per-second timeline of the target and of
    the invocations running (their peak within the second), for the demo and the model check."""

    def __init__(self, ramp: PollerRamp, cap: int, now: float, *, keep_seconds: int = 3_600) -> None:
        self.ramp = ramp
        self._state = start(ramp, cap, now)
        self._lock = threading.Lock()
        self._keep = keep_seconds
        self._timeline: dict[int, list[int]] = {}  # epoch second -> [target, peak in flight]

    def target(self, cap: int, now: float) -> int:
        with self._lock:
            self._state = advance(self.ramp, self._state, cap=cap, now=now)
            return self._state.target

    def observe(self, received: int, cap: int, now: float) -> int:
        """A receive returned ``received`` messages: the new target."""
        with self._lock:
            self._state = advance(self.ramp, self._state, cap=cap, now=now, received=received)
            return self._state.target

    def sample(self, cap: int, in_flight: int, now: float) -> None:
        target = self.target(cap, now)
        second = math.floor(now)
        with self._lock:
            row = self._timeline.setdefault(second, [target, in_flight])
            row[0], row[1] = target, max(row[1], in_flight)
            if len(self._timeline) > self._keep:
                del self._timeline[min(self._timeline)]

    def timeline(self) -> list[dict[str, int]]:
        """``[{"second": epoch second, "pollers": target, "in_flight": peak}, ...]`` in time order."""
        with self._lock:
            rows = sorted(self._timeline.items())
        return [{"second": second, "pollers": target, "in_flight": peak} for second, (target, peak) in rows]
