"""The token bucket and the AIMD controller, driven by a fake clock: nothing here really sleeps."""

from __future__ import annotations

import pytest

from writer.ratelimit import AimdController, DeadlineReached, TokenBucket


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


def bucket(time: FakeTime, rate: float = 10.0, burst: float = 0.0) -> TokenBucket:
    return TokenBucket(rate=rate, burst=burst, clock=time.clock, sleep=time.sleep)


# --- TokenBucket ------------------------------------------------------------------------------


def test_the_first_acquire_waits_there_is_no_initial_burst() -> None:
    time = FakeTime()
    limiter = bucket(time, rate=10.0, burst=50.0)
    assert limiter.acquire(5, FAR) == pytest.approx(0.5)
    assert time.sleeps == [pytest.approx(0.5)]


def test_the_rate_is_honoured_over_many_acquires() -> None:
    # GIVEN 10 units/s and callers that ask for 1-3 units at a time, back to back
    time = FakeTime()
    limiter = bucket(time, rate=10.0)
    start = time.now
    total = 0
    for i in range(1000):
        units = 1 + i % 3
        limiter.acquire(units, FAR)
        total += units
        # THEN at no point has more been handed out than the rate allows
        assert total <= (time.now - start) * 10.0 + 1e-6
    # AND over the run the rate is met, not undershot
    assert total / (time.now - start) == pytest.approx(10.0, rel=1e-9)


def test_idle_time_is_saved_only_up_to_the_burst() -> None:
    time = FakeTime()
    limiter = bucket(time, rate=10.0, burst=5.0)
    time.advance(100.0)  # 1000 units' worth of idle time
    assert limiter.acquire(5, FAR) == 0.0  # the burst is there
    assert limiter.acquire(5, FAR) == pytest.approx(0.5)  # and no more


def test_saved_units_are_spent_across_several_acquires() -> None:
    time = FakeTime()
    limiter = bucket(time, rate=10.0, burst=20.0)
    time.advance(5.0)
    assert [limiter.acquire(5, FAR) for _ in range(4)] == [0.0, 0.0, 0.0, 0.0]
    assert limiter.acquire(1, FAR) == pytest.approx(0.1)


def test_with_no_burst_idle_time_is_not_saved() -> None:
    time = FakeTime()
    limiter = bucket(time, rate=10.0, burst=0.0)
    time.advance(60.0)
    assert limiter.acquire(1, FAR) == pytest.approx(0.1)


def test_reservations_are_served_in_order() -> None:
    # GIVEN callers that reserve before sleeping (the sleep is deferred, as if by other threads)
    time = FakeTime()
    deferred: list[float] = []
    limiter = TokenBucket(rate=10.0, burst=0.0, clock=time.clock, sleep=deferred.append)
    # WHEN three callers reserve 10, 5 and 1 units at the same instant
    waits = [limiter.acquire(units, FAR) for units in (10, 5, 1)]
    # THEN each waits for its own units plus everything reserved before it
    assert waits == [pytest.approx(1.0), pytest.approx(1.5), pytest.approx(1.6)]
    assert deferred == waits


def test_a_wait_past_the_deadline_raises_and_takes_nothing() -> None:
    time = FakeTime()
    limiter = bucket(time, rate=10.0)
    with pytest.raises(DeadlineReached):
        limiter.acquire(10, deadline=time.now + 0.99)
    assert time.sleeps == []
    # nothing was reserved: the next caller waits only for its own units
    assert limiter.acquire(1, deadline=time.now + 0.1) == pytest.approx(0.1)


def test_a_wait_ending_exactly_at_the_deadline_is_allowed() -> None:
    time = FakeTime()
    limiter = bucket(time, rate=4.0)
    assert limiter.acquire(2, deadline=time.now + 0.5) == pytest.approx(0.5)


def test_set_rate_applies_from_now_on() -> None:
    time = FakeTime()
    limiter = bucket(time, rate=10.0)
    limiter.acquire(10, FAR)  # 1 s at 10/s
    limiter.set_rate(2.0)
    assert limiter.rate == 2.0
    assert limiter.acquire(1, FAR) == pytest.approx(0.5)
    limiter.set_rate(100.0)
    assert limiter.acquire(10, FAR) == pytest.approx(0.1)


def test_set_rate_keeps_saved_units_but_caps_them_at_a_new_burst() -> None:
    time = FakeTime()
    limiter = bucket(time, rate=10.0, burst=20.0)
    time.advance(10.0)  # 20 saved
    limiter.set_rate(10.0, burst=3.0)
    assert limiter.acquire(3, FAR) == 0.0
    assert limiter.acquire(1, FAR) == pytest.approx(0.1)


def test_set_rate_keeps_outstanding_reservations() -> None:
    time = FakeTime()
    deferred: list[float] = []
    limiter = TokenBucket(rate=10.0, burst=0.0, clock=time.clock, sleep=deferred.append)
    limiter.acquire(10, FAR)  # reserved: balance -10
    limiter.set_rate(5.0)
    assert limiter.acquire(5, FAR) == pytest.approx(3.0)  # (10 + 5) / 5


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1.0), (-1.0, 1.0), (1.0, -1.0)])
def test_nonsense_rates_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        bucket(FakeTime(), rate=rate, burst=burst)
    with pytest.raises(ValueError):
        bucket(FakeTime()).set_rate(0.0)


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


def test_refunded_units_are_spent_again_without_waiting_for_new_budget() -> None:
    # GIVEN a bucket at 10 units/s whose first 10 units were refused by the table (a throttle)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(rate=10.0, burst=10.0, clock=lambda: now[0], sleep=sleep)
    assert bucket.acquire(10, deadline=100.0) == pytest.approx(1.0)
    bucket.refund(10)
    # THEN retrying them costs no new wait: the budget pays for what the table took, not for attempts
    assert bucket.acquire(10, deadline=100.0) == 0.0
    # AND a refund never lifts the balance above the burst
    bucket.refund(1_000)
    assert bucket.acquire(11, deadline=100.0) == pytest.approx(0.1)
