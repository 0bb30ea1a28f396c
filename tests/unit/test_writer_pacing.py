"""The pacer, on a fake clock: the share W / C, its refresh, spending per second, throttle cuts and recovery."""

from __future__ import annotations

import math
import random

import pytest

from tests.support.fakes import FakeClock
from writer.pacing import AIMD_DECREASE, AIMD_INCREASE_PER_SECOND, Pacer, share_of

FAR = float("inf")


class Budget:
    """W and C as SSM would hand them out; the test changes them like an operator would."""

    def __init__(self, rate: float, executions: int) -> None:
        self.rate, self.count = rate, executions

    def table_rate(self) -> float:
        return self.rate

    def executions(self) -> int:
        return self.count

    def last_known(self) -> tuple[float, int]:
        return self.rate, self.count


def pacer(budget: Budget, clock: FakeClock, burst_seconds: float = 0.0) -> Pacer:
    return Pacer(budget, clock=clock, sleep=clock.sleep, rng=random.Random(3), burst_seconds=burst_seconds)


def test_the_share_is_the_budget_split_over_the_executions() -> None:
    assert share_of(300.0, 3) == 100.0
    assert pacer(Budget(300.0, 3), FakeClock()).share == 100.0


def granted_per_second(paced: Pacer, clock: FakeClock, requests: list[int]) -> dict[int, int]:
    """Units granted in each wall-clock second (at the grant time) for ``requests`` made back to back."""
    granted: dict[int, int] = {}
    for units in requests:
        assert paced.take(units, FAR) is not None
        second = math.floor(clock.now)
        granted[second] = granted.get(second, 0) + units
    return granted


def test_a_change_in_ssm_takes_effect_on_the_next_refresh() -> None:
    # GIVEN a pacer spending 100 WCU/s (W=300 over C=3)
    clock = FakeClock(1000.0)
    budget = Budget(300.0, 3)
    paced = pacer(budget, clock)
    assert granted_per_second(paced, clock, [1] * 200) == {1000: 100, 1001: 100}
    # WHEN the operator lowers W to 150 and the next batch refreshes
    budget.rate = 150.0
    assert paced.share == 100.0  # nothing changes before the refresh
    assert paced.refresh() == 50.0
    # THEN a second grants 50 units
    assert granted_per_second(paced, clock, [1] * 100) == {1002: 50, 1003: 50}
    # AND a fourth execution splits it further
    budget.count = 4
    assert paced.refresh() == pytest.approx(37.5)


def test_a_throttle_cuts_the_rate_and_it_recovers_linearly() -> None:
    clock = FakeClock()
    paced = pacer(Budget(100.0, 1), clock)
    paced.take(1, FAR)
    # WHEN the table throttles
    paced.on_throttle()
    # THEN the next request goes at 0.9 x the share
    assert paced.fraction == pytest.approx(AIMD_DECREASE)
    paced.take(1, FAR)
    assert paced.rate == pytest.approx(100.0 * AIMD_DECREASE)
    # AND a second throttle within the cooldown does not cut again
    paced.on_throttle()
    assert paced.fraction == pytest.approx(AIMD_DECREASE, abs=0.01)
    # AND it climbs back by 0.3 of the share per second, never above the share
    clock.now += (1 - AIMD_DECREASE) / AIMD_INCREASE_PER_SECOND + 5
    paced.take(1, FAR)
    assert paced.fraction == 1.0
    assert paced.rate == pytest.approx(100.0)


@pytest.mark.parametrize("burst_seconds", [0.0, 0.2])
def test_no_aligned_second_gets_more_than_the_share(burst_seconds: float) -> None:
    # GIVEN one of two executions sharing W = 97 (48.5 WCU/s each), writing batches of 25 items and
    # single puts back to back, after idle gaps that leave it room to catch up on
    clock = FakeClock(1000.3)
    paced = pacer(Budget(97.0, 2), clock, burst_seconds=burst_seconds)
    granted: dict[int, int] = {}
    for i in range(400):
        if i % 40 == 0:
            clock.now += 0.35  # the poller's gap between two invocations
        units = 25 if i % 4 == 0 else 1
        assert paced.take(units, FAR) is not None
        granted[math.floor(clock.now)] = granted.get(math.floor(clock.now), 0) + units
    # THEN no epoch-aligned second (the seconds the table counts) was granted more than the share,
    # rounded up: both executions together stay within W (a continuous bucket let a batch's units,
    # earned late in one second, land in the next on top of that second's own)
    assert max(granted.values()) <= math.ceil(48.5)


def test_a_batch_is_split_where_the_second_ends_so_no_second_is_left_short() -> None:
    # GIVEN 48.5 WCU/s and batches of 25 one-unit items: two of them never fit one second
    clock = FakeClock(1000.0)
    paced = pacer(Budget(97.0, 2), clock)
    granted: dict[int, int] = {}
    for _ in range(40):
        sizes = [1] * 25
        while sizes:
            taken = paced.take_prefix(sizes, FAR)
            assert taken is not None
            granted[math.floor(clock.now)] = granted.get(math.floor(clock.now), 0) + taken[0]
            sizes = sizes[taken[0] :]
    # THEN every second but the last is granted its whole share (48 and 49 in turn), not one batch
    full = sorted(granted)[:-1]
    assert [granted[s] for s in full] == [48, 49] * (len(full) // 2) + [48] * (len(full) % 2)


def test_spending_past_the_deadline_takes_nothing() -> None:
    clock = FakeClock(1000.0)
    paced = pacer(Budget(10.0, 1), clock)
    assert paced.take(10, FAR) == 0.0  # second 1000 is full
    assert paced.take(5, deadline=1000.5) is None  # the next room is at 1001.0
    assert paced.take(5, deadline=1001.0) == pytest.approx(1.0)  # the refused request took nothing
    assert paced.take(5, deadline=1001.5) == pytest.approx(0.5)  # and 1001 has 5 left, from unit 5 on


def test_backoff_is_full_jitter_and_never_passes_the_deadline() -> None:
    clock = FakeClock()
    paced = pacer(Budget(10.0, 1), clock)
    assert paced.back_off(3, deadline=FAR)
    assert 0 <= clock.sleeps[-1] <= paced.backoff_base * 2**3
    assert not paced.back_off(10, deadline=clock.now)  # any positive wait would pass it
