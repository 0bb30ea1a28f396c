"""The per-second budget and the AIMD controller, driven by a fake clock: nothing here really sleeps."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from writer.ratelimit import AimdController, DeadlineReached, SecondBudget


class FakeTime:
    """A clock that only moves when the code under test sleeps (or the test advances it)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


FAR = float("inf")


def budget(time: FakeTime, rate: float = 10.0, burst: float = 0.0) -> SecondBudget:
    return SecondBudget(rate, time.clock, time.sleep, burst=burst)


def granted_per_second(
    limiter: SecondBudget, time: FakeTime, requests: list[list[int]], gaps: list[float]
) -> dict[int, int]:
    """Units granted in each wall-clock second (at the grant time) for ``requests`` made one after the
    other, each batch split where ``acquire_prefix`` splits it, with ``gaps`` of idle time between."""
    granted: dict[int, int] = {}
    for request, gap in zip(requests, gaps, strict=True):
        sizes = request
        while sizes:
            count, _ = limiter.acquire_prefix(sizes, FAR)
            second = math.floor(time.now)
            granted[second] = granted.get(second, 0) + sum(sizes[:count])
            sizes = sizes[count:]
        time.advance(gap)
    return granted


# --- SecondBudget -----------------------------------------------------------------------------


def test_each_second_grants_its_allowance_the_fraction_in_turn() -> None:
    limiter = budget(FakeTime(), rate=48.5)
    assert [limiter.allowance(s) for s in range(1000, 1004)] == [48, 49, 48, 49]
    assert sum(limiter.allowance(s) for s in range(1000, 1100)) == 4850


def test_a_fresh_execution_cannot_burst_it_gets_the_rest_of_the_current_second() -> None:
    # GIVEN 10 units/s and no burst, started half-way through a second
    time = FakeTime(1000.5)
    limiter = budget(time, rate=10.0)
    # THEN single units go at the schedule's pace: the half second already past is not there to spend
    waits = [limiter.acquire(1, FAR) for _ in range(6)]
    assert waits == [
        0.0,
        pytest.approx(0.1),
        pytest.approx(0.1),
        pytest.approx(0.1),
        pytest.approx(0.1),
        pytest.approx(0.1),
    ]
    assert time.now == pytest.approx(1001.0)  # the sixth unit is the next second's first


def test_idle_time_is_caught_up_only_up_to_the_burst_and_only_within_its_second() -> None:
    time = FakeTime(1000.0)
    limiter = budget(time, rate=10.0, burst=3.0)
    time.advance(0.6)  # 6 units of this second's schedule went by unused
    assert [limiter.acquire(1, FAR) for _ in range(4)] == [0.0] * 4  # the burst's 3, and the unit due now
    assert limiter.acquire(1, FAR) == pytest.approx(0.1)  # and no more
    # AND what a second left unused is gone with it: the next second grants its own 10, no more
    time.now = 1001.0
    granted = granted_per_second(limiter, time, [[1]] * 30, [0.0] * 30)
    assert granted == {1001: 10, 1002: 10, 1003: 10}


def test_concurrent_reservations_share_the_second() -> None:
    # GIVEN callers that reserve before sleeping (the sleep is deferred, as if by other threads)
    time = FakeTime(1000.0)
    deferred: list[float] = []
    limiter = SecondBudget(10.0, time.clock, deferred.append)
    # WHEN three callers reserve 6, 5 and 3 units at the same instant
    waits = [limiter.acquire(units, FAR) for units in (6, 5, 3)]
    # THEN the first goes now; 5 no longer fit this second's 4 left, so the 3 behind it fill them
    # (units 6-8, at 0.6 s) and the 5 go first thing in the next second
    assert waits == [0.0, pytest.approx(1.0), pytest.approx(0.6)]
    assert deferred == [pytest.approx(1.0), pytest.approx(0.6)]


def test_a_batch_is_split_where_its_second_ends() -> None:
    time = FakeTime(1000.0)
    limiter = budget(time, rate=48.5)
    assert limiter.acquire(40, FAR) == 0.0
    # 8 of the second's 48 units are left: 8 of the 25 items go now, at unit 40's time
    assert limiter.acquire_prefix([1] * 25, FAR) == (8, pytest.approx(40 / 48))
    assert limiter.acquire_prefix([1] * 17, FAR) == (17, pytest.approx(1 - 40 / 48))  # the next second's first
    # an item bigger than the room left is not split: it takes the next second with room
    time.now = 1002.0
    limiter.acquire(45, FAR)
    assert limiter.acquire_prefix([2, 2], FAR) == (1, pytest.approx(45 / 48))  # 2 of the 3 left, at unit 45
    assert limiter.acquire_prefix([2], FAR) == (1, pytest.approx(1 - 45 / 48))  # the next second's first


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=5.0, max_value=200.0),
    burst=st.floats(min_value=0.0, max_value=20.0),
    start=st.floats(min_value=0.0, max_value=1.0),
    work=st.lists(
        st.tuples(st.sampled_from([[1], [1], [2], [1] * 25, [1] * 7]), st.floats(min_value=0.0, max_value=0.5)),
        min_size=1,
        max_size=120,
    ),
)
def test_no_second_is_granted_more_than_its_allowance(
    rate: float, burst: float, start: float, work: list[tuple[list[int], float]]
) -> None:
    # GIVEN any mix of single writes and batches, with any idle gaps and any burst
    time = FakeTime(1000.0 + start)
    limiter = budget(time, rate=rate, burst=burst)
    granted = granted_per_second(limiter, time, [sizes for sizes, _ in work], [gap for _, gap in work])
    # THEN no epoch-aligned second (the seconds the table counts) was granted more than its allowance
    assert all(units <= limiter.allowance(second) for second, units in granted.items())


def test_over_a_long_run_the_rate_is_met_not_undershot() -> None:
    # GIVEN back-to-back batches of 25 and single writes at 48.5 units/s: two batches never fit a second
    time = FakeTime(1000.0)
    limiter = budget(time, rate=48.5)
    requests = [[1] * 25 if i % 3 == 0 else [1] for i in range(3000)]
    granted = granted_per_second(limiter, time, requests, [0.0] * len(requests))
    # THEN every full second is granted its whole allowance: splitting loses nothing at the seconds' ends
    full = sorted(granted)[:-1]
    assert all(granted[second] == limiter.allowance(second) for second in full)


def test_a_request_bigger_than_a_second_takes_an_empty_one_and_those_after_it() -> None:
    time = FakeTime(1000.0)
    limiter = budget(time, rate=10.0)
    limiter.acquire(1, FAR)
    assert limiter.acquire(25, FAR) == pytest.approx(1.0)  # second 1000 is not empty: from 1001 on
    assert limiter.acquire(1, FAR) == pytest.approx(2.5)  # 1001 and 1002 are full, 1003 half


def test_a_wait_past_the_deadline_raises_and_takes_nothing() -> None:
    time = FakeTime(1000.0)
    limiter = budget(time, rate=10.0)
    limiter.acquire(10, FAR)
    with pytest.raises(DeadlineReached):
        limiter.acquire(10, deadline=time.now + 0.99)
    assert time.sleeps == []
    # nothing was reserved: the next caller gets the next second's first unit
    assert limiter.acquire(1, deadline=time.now + 1.0) == pytest.approx(1.0)


def test_set_rate_applies_from_now_on() -> None:
    time = FakeTime(1000.0)
    limiter = budget(time, rate=10.0)
    limiter.set_rate(2.0)
    assert limiter.rate == 2.0
    assert [limiter.acquire(1, FAR) for _ in range(3)] == [0.0, pytest.approx(0.5), pytest.approx(0.5)]
    limiter.set_rate(100.0)
    assert limiter.acquire(10, FAR) == pytest.approx(0.01)  # in 1001, after the unit reserved there at 2/s


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1.0), (-1.0, 1.0), (1.0, -1.0)])
def test_nonsense_rates_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        budget(FakeTime(), rate=rate, burst=burst)
    with pytest.raises(ValueError):
        budget(FakeTime()).set_rate(0.0)


# --- AimdController ---------------------------------------------------------------------------


def test_a_throttle_cuts_the_fraction_multiplicatively() -> None:
    time = FakeTime()
    aimd = AimdController(time.clock, decrease=0.5, increase_per_second=0.1, cooldown=1.0)
    assert aimd.fraction == 1.0
    assert aimd.on_throttle() == pytest.approx(0.5)
    time.advance(1.0)
    assert aimd.on_throttle() == pytest.approx(0.3)  # grew to 0.6 during the second, then halved


def test_throttles_within_the_cooldown_count_once() -> None:
    time = FakeTime()
    aimd = AimdController(time.clock, decrease=0.5, increase_per_second=0.0, cooldown=1.0)
    aimd.on_throttle()
    for _ in range(10):
        time.advance(0.05)
        assert aimd.on_throttle() == pytest.approx(0.5)
    time.advance(0.6)  # past the cooldown since the first cut
    assert aimd.on_throttle() == pytest.approx(0.25)


def test_the_fraction_recovers_additively_up_to_one() -> None:
    time = FakeTime()
    aimd = AimdController(time.clock, decrease=0.5, increase_per_second=0.1)
    aimd.on_throttle()
    time.advance(2.0)
    assert aimd.fraction == pytest.approx(0.7)
    time.advance(2.0)
    assert aimd.fraction == pytest.approx(0.9)
    time.advance(60.0)
    assert aimd.fraction == 1.0


def test_the_fraction_never_falls_below_the_floor() -> None:
    time = FakeTime()
    aimd = AimdController(time.clock, decrease=0.5, increase_per_second=0.0, floor=0.05, cooldown=0.0)
    for _ in range(50):
        aimd.on_throttle()
    assert aimd.fraction == pytest.approx(0.05)
