"""The per-second capacity allowance and its burst credit, driven by a fake clock."""

from __future__ import annotations

import pytest

from nicelist.local.meter.limiter import CapacityLimiter


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_second_admits_exactly_its_capacity() -> None:
    clock = FakeClock(1_000.2)
    limiter = CapacityLimiter(10, burst_seconds=0, clock=clock)
    assert all(limiter.try_acquire(1) for _ in range(10))
    assert not limiter.try_acquire(1)
    clock.now = 1_000.99
    assert not limiter.try_acquire(1)
    clock.now = 1_001.0  # a new epoch second: a fresh allowance
    assert limiter.try_acquire(10)
    assert not limiter.try_acquire(1)


def test_a_refused_request_takes_nothing() -> None:
    limiter = CapacityLimiter(10, burst_seconds=0, clock=FakeClock())
    assert limiter.try_acquire(7)
    assert not limiter.try_acquire(4)
    assert limiter.available() == 3
    assert limiter.try_acquire(3)


def test_without_burst_unused_capacity_is_lost() -> None:
    clock = FakeClock()
    limiter = CapacityLimiter(10, burst_seconds=0, clock=clock)
    clock.now += 5
    assert limiter.available() == 10


def test_burst_credit_keeps_unused_capacity_up_to_burst_seconds() -> None:
    clock = FakeClock()
    limiter = CapacityLimiter(10, burst_seconds=2, clock=clock)
    assert limiter.try_acquire(4)  # 6 unused this second
    clock.now += 1
    assert limiter.available() == 10 + 6
    clock.now += 10  # long idle: credit capped at 2 s x 10
    assert limiter.available() == 10 + 20
    assert limiter.try_acquire(30)
    assert not limiter.try_acquire(1)
    clock.now += 1  # credit spent and nothing left over last second
    assert limiter.available() == 10


def test_refund_gives_units_back_within_the_second() -> None:
    limiter = CapacityLimiter(5, burst_seconds=0, clock=FakeClock())
    assert limiter.try_acquire(5)
    limiter.refund(2)
    assert limiter.available() == 2


def test_capacity_changes_at_runtime() -> None:
    clock = FakeClock()
    limiter = CapacityLimiter(None, burst_seconds=0, clock=clock)
    assert limiter.available() is None
    assert limiter.try_acquire(10_000)
    limiter.set_capacity(3)
    assert limiter.try_acquire(3)
    assert not limiter.try_acquire(1)
    limiter.set_capacity(0)
    clock.now += 1
    assert not limiter.try_acquire(1)


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="burst_seconds"):
        CapacityLimiter(1, burst_seconds=-1, clock=FakeClock())
    with pytest.raises(ValueError, match="capacity"):
        CapacityLimiter(1, burst_seconds=0, clock=FakeClock()).set_capacity(-1)
