"""Fakes for driving the writer's pacing without sleeping: a clock that moves only when someone sleeps."""

from __future__ import annotations

import dataclasses
import random
import threading

from writer.pacing import Pacer
from writer.processor import WriterDeps


class FakeClock:
    """A callable clock for single-threaded code: ``sleep`` moves it and records the wait."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeTime:
    """A thread-safe clock that moves only when someone sleeps; backoff sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.backoffs: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.backoffs.append(seconds)
            self.now += seconds

    def budget_sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def on_fake_time(deps: WriterDeps, time: FakeTime, max_attempts: int | None = None) -> WriterDeps:
    """The same deps with a pacer (bucket, controller, backoff) and the deadline on ``time``."""
    settings = deps.settings
    if max_attempts is not None:
        settings = settings.model_copy(update={"max_attempts": max_attempts})
    pacer = Pacer(
        deps.pacer.budget,
        clock=time.clock,
        sleep=time.sleep,
        budget_sleep=time.budget_sleep,
        rng=random.Random(7),
        burst_seconds=settings.write_burst_seconds,
    )
    return dataclasses.replace(deps, settings=settings, pacer=pacer)
