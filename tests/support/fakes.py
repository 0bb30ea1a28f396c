"""Fakes for driving the writer's pacing without sleeping: a clock that moves only when someone sleeps."""

from __future__ import annotations

import dataclasses
import random
import threading

from writer.processor import WriterDeps
from writer.ratelimit import AimdController, TokenBucket


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
    """The same deps with bucket, controller, backoff and deadline on ``time``."""
    pacing = deps.pacing
    share = pacing.share
    fake = dataclasses.replace(
        pacing,
        bucket=TokenBucket(rate=share, burst=0.0, clock=time.clock, sleep=time.budget_sleep),
        controller=AimdController(clock=time.clock),
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(7),
        max_attempts=max_attempts or pacing.max_attempts,
    )
    return dataclasses.replace(deps, pacing=fake)
