"""Faults the meter can inject on the path to DynamoDB, for the fault suite (RELIABILITY.md).

The meter already throttles what exceeds a table's capacity; these knobs make the path worse on
purpose, so the writer's answers to a bad day run for real on one machine:

- ``throttle_share``: that share of metered writes is refused as if over capacity
  (``ProvisionedThroughputExceededException``; in a ``BatchWriteItem`` each item is drawn on its
  own and the refused ones come back in ``UnprocessedItems``), whatever the capacity.
- ``down``: DynamoDB is unreachable. ``mode`` says how it looks to a client: ``503`` (an HTTP 503
  ``ServiceUnavailable``), ``reset`` (the connection is reset, nothing answered) or ``hang`` (no
  answer until the outage ends, then a reset: what a dead network path does to a client's timeouts).
  ``for_seconds`` ends it by itself, so an operator poking ``nicelist up`` by hand cannot forget it.
- ``missing_tables``: requests naming these tables get ``ResourceNotFoundException``, as if the
  table had been deleted, but its items are kept, so lifting the fault restores it intact.

Control API: ``GET /_meter/faults`` and ``PUT /_meter/faults`` with any of the keys above;
``{"clear": true}`` lifts everything. Thread-safe: every method takes the one lock.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OUTAGE_MODES = ("503", "reset", "hang")
MAX_HANG_SECONDS = 300.0
Clock = Callable[[], float]


class FaultError(ValueError):
    """A fault setting the meter does not understand."""


@dataclass(slots=True)
class _Counters:
    injected_throttles: int = 0  # requests refused whole (single writes, whole batches)
    injected_unprocessed: int = 0  # BatchWriteItem entries returned as UnprocessedItems
    outage_answers: int = 0  # requests answered with the outage (503, reset or hang)
    missing_answers: int = 0  # requests answered ResourceNotFoundException
    outages: list[dict[str, float | str]] = field(default_factory=list)  # closed outages: start, end, mode


class Faults:
    """The meter's fault settings and what they did."""

    def __init__(self, *, clock: Clock = time.time, rng: random.Random | None = None) -> None:
        self._lock = threading.Condition()
        self._clock = clock
        self._rng = rng or random.Random()
        self.throttle_share = 0.0
        self.mode: str | None = None  # the outage in force, or None
        self._down_since: float | None = None
        self._down_until: float | None = None
        self.missing_tables: frozenset[str] = frozenset()
        self._counts = _Counters()

    def configure(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a ``PUT /_meter/faults`` body (validated whole before anything changes)."""
        if not isinstance(payload, Mapping):
            raise FaultError("expected a JSON object")
        unknown = set(payload) - {"throttle_share", "down", "mode", "for_seconds", "missing_tables", "clear"}
        if unknown:
            raise FaultError(f"unknown fault settings: {sorted(unknown)}")
        share = _share(payload.get("throttle_share", None))
        down, mode, until = self._outage_settings(payload)
        missing = _tables(payload.get("missing_tables", None))
        with self._lock:
            if payload.get("clear"):
                self.throttle_share, self.missing_tables = 0.0, frozenset()
                self._end_outage()
            if share is not None:
                self.throttle_share = share
            if missing is not None:
                self.missing_tables = missing
            if down is True:
                self._begin_outage(mode, until)
            elif down is False:
                self._end_outage()
            self._lock.notify_all()
        return self.stats()

    def _outage_settings(self, payload: Mapping[str, Any]) -> tuple[bool | None, str, float | None]:
        down = payload.get("down", None)
        if down is not None and not isinstance(down, bool):
            raise FaultError("down must be true or false")
        mode = payload.get("mode", "503")
        if mode not in OUTAGE_MODES:
            raise FaultError(f"mode must be one of {', '.join(OUTAGE_MODES)}")
        seconds = payload.get("for_seconds", None)
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < math.inf
        ):
            raise FaultError("for_seconds must be a positive number")
        return down, str(mode), None if seconds is None else self._clock() + float(seconds)

    def _begin_outage(self, mode: str, until: float | None) -> None:
        if self.mode is None:
            self._down_since = self._clock()
        self.mode, self._down_until = mode, until

    def _end_outage(self) -> None:
        if self.mode is not None and self._down_since is not None:
            end = self._clock() if self._down_until is None else min(self._clock(), self._down_until)
            self._counts.outages.append({"start": self._down_since, "end": end, "mode": self.mode})
        self.mode, self._down_since, self._down_until = None, None, None

    def outage(self) -> str | None:
        """The outage mode in force now (None: DynamoDB is reachable); counts the request it answers."""
        with self._lock:
            if self._down_until is not None and self._clock() >= self._down_until:
                self._end_outage()
                self._lock.notify_all()
            if self.mode is not None:
                self._counts.outage_answers += 1
            return self.mode

    def wait_until_up(self, timeout: float = MAX_HANG_SECONDS) -> None:
        """Block a ``hang`` answer until the outage ends (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.mode is not None and time.monotonic() < deadline:
                step = 0.2 if self._down_until is None else max(0.0, min(0.2, self._down_until - self._clock()))
                self._lock.wait(step)
                if self._down_until is not None and self._clock() >= self._down_until:
                    self._end_outage()

    def throttle(self) -> bool:
        """Whether to refuse one all-or-nothing write."""
        with self._lock:
            refused = self.throttle_share > 0 and self._rng.random() < self.throttle_share
            self._counts.injected_throttles += int(refused)
            return refused

    def throttle_each(self, count: int) -> tuple[bool, ...]:
        """Per entry of a ``BatchWriteItem``: True for those to refuse."""
        with self._lock:
            if self.throttle_share <= 0:
                return (False,) * count
            refused = tuple(self._rng.random() < self.throttle_share for _ in range(count))
            if all(refused):
                self._counts.injected_throttles += 1
            else:
                self._counts.injected_unprocessed += sum(refused)
            return refused

    def missing(self, tables: Sequence[str]) -> str | None:
        """The first of ``tables`` made missing, if any (counted as one answer)."""
        with self._lock:
            found = next((t for t in tables if t in self.missing_tables), None)
            self._counts.missing_answers += int(found is not None)
            return found

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts = self._counts
            return {
                "throttle_share": self.throttle_share,
                "down": self.mode is not None,
                "mode": self.mode,
                "down_since": self._down_since,
                "down_until": self._down_until,
                "missing_tables": sorted(self.missing_tables),
                "injected_throttles": counts.injected_throttles,
                "injected_unprocessed": counts.injected_unprocessed,
                "outage_answers": counts.outage_answers,
                "missing_answers": counts.missing_answers,
                "outages": list(counts.outages),
            }


def _share(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultError("throttle_share must be a number in [0, 1]")
    return float(value)


def _tables(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise FaultError("missing_tables must be a list of table names")
    return frozenset(value)
