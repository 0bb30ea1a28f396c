"""The pacer, on a fake clock: the share W / C, its refresh, spending, refunds, throttle cuts and recovery."""

from __future__ import annotations

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


def test_a_change_in_ssm_takes_effect_on_the_next_refresh() -> None:
    # GIVEN a pacer spending 100 WCU/s (W=300 over C=3)
    clock = FakeClock()
    budget = Budget(300.0, 3)
    paced = pacer(budget, clock)
    assert paced.take(100, FAR) == pytest.approx(1.0)
    # WHEN the operator lowers W to 150 and the next batch refreshes
    budget.rate = 150.0
    assert paced.share == 100.0  # nothing changes before the refresh
    assert paced.refresh() == 50.0
    # THEN 100 units now take 2 s
    assert paced.take(100, FAR) == pytest.approx(2.0)
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


def test_refunded_units_are_spent_again_without_a_new_wait() -> None:
    # GIVEN 10 WCU/s with one second of banking
    clock = FakeClock()
    paced = pacer(Budget(10.0, 1), clock, burst_seconds=1.0)
    assert paced.take(10, FAR) == pytest.approx(1.0)
    # WHEN the table refused those 10 units and they are refunded
    paced.refund(10)
    # THEN retrying them costs no wait
    assert paced.take(10, FAR) == 0.0


def test_spending_past_the_deadline_takes_nothing() -> None:
    clock = FakeClock()
    paced = pacer(Budget(10.0, 1), clock)
    assert paced.take(100, deadline=5.0) is None  # would need 10 s
    assert paced.take(40, deadline=5.0) == pytest.approx(4.0)  # the refused request took nothing


def test_backoff_is_full_jitter_and_never_passes_the_deadline() -> None:
    clock = FakeClock()
    paced = pacer(Budget(10.0, 1), clock)
    assert paced.back_off(3, deadline=FAR)
    assert 0 <= clock.sleeps[-1] <= paced.backoff_base * 2**3
    assert not paced.back_off(10, deadline=clock.now)  # any positive wait would pass it
