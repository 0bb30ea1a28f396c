"""The poller ramp (nicelist/local/ramp.py): AWS's documented numbers, bounds under any sequence of
receives and time, the step rule agreeing with its closed form, and the parser refusing what AWS does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nicelist.local.ramp import (
    OFF,
    PollerRamp,
    RampError,
    RampState,
    RampTracker,
    advance,
    concurrency_after,
    parse_ramp,
    start,
)

ramps = st.builds(
    lambda initial, extra, floor_cut, per_minute, minute: PollerRamp(
        "standard", initial, per_minute, max(1, initial - floor_cut), initial + extra, minute
    ),
    st.integers(1, 20),
    st.integers(0, 50),
    st.integers(0, 20),
    st.floats(0, 1_000, allow_nan=False),
    st.floats(0.01, 120, allow_nan=False),
)
events = st.lists(
    st.tuples(st.floats(0, 30, allow_nan=False), st.one_of(st.none(), st.integers(0, 10)), st.integers(1, 40)),
    max_size=60,
)


def test_aws_standard_mode_numbers() -> None:
    ramp = parse_ramp("aws")
    assert (ramp.initial, ramp.per_minute, ramp.floor, ramp.ceiling) == (5, 300, 5, 1_250)
    assert concurrency_after(ramp, 0, 1_000) == 5
    assert concurrency_after(ramp, 60, 1_000) == 305  # +300 in the first minute
    assert concurrency_after(ramp, 600, 5_000) == 1_250  # never above 1,250
    assert concurrency_after(ramp, 600, 8) == 8  # nor above the mapping's maximum concurrency


def test_provisioned_mode_starts_with_its_minimum_pollers_ready() -> None:
    ramp = parse_ramp("provisioned:2:5")
    assert (ramp.initial, ramp.floor, ramp.ceiling, ramp.per_minute) == (20, 20, 50, 1_000)
    assert concurrency_after(ramp, 0, 8) == 8  # 2 pollers carry 20 invokes: no ramp for C = 8


def test_a_local_ramp_adds_one_every_step() -> None:
    ramp = parse_ramp("1:12")  # +1 every 5 s
    assert [concurrency_after(ramp, t, 4) for t in (0, 4.9, 5, 10, 15, 60)] == [1, 1, 2, 3, 4, 4]
    faster = parse_ramp("1:1", minute_seconds=5)  # the same ramp, said with the time factor
    assert [concurrency_after(faster, t, 4) for t in (0, 4.9, 5, 10, 15)] == [1, 1, 2, 3, 4]


def test_off_is_the_maximum_from_the_start() -> None:
    assert concurrency_after(OFF, 0, 6) == 6
    assert start(OFF, 6, 0).target == 6
    assert advance(OFF, start(OFF, 6, 0), cap=6, now=1, received=0).target == 6


def test_empty_receives_scale_down_to_the_floor_and_growth_restarts() -> None:
    ramp = parse_ramp("1:60")  # +1 a second
    state = advance(ramp, start(ramp, 4, 0.0), cap=4, now=0.0, received=10)
    state = advance(ramp, state, cap=4, now=3.0, received=10)
    assert state.target == 4
    for now in (4.0, 5.0, 6.0, 7.0, 8.0):
        state = advance(ramp, state, cap=4, now=now, received=0)
    assert state.target == 1  # the floor
    state = advance(ramp, state, cap=4, now=100.0, received=3)  # a long idle time earns nothing
    assert advance(ramp, state, cap=4, now=100.5).target == 1
    assert advance(ramp, state, cap=4, now=101.0).target == 2


def test_no_growth_while_the_queue_is_idle() -> None:
    ramp = parse_ramp("1:60")
    state = start(ramp, 4, 0.0)
    assert advance(ramp, state, cap=4, now=50.0).target == 1


@given(ramps, events)
def test_the_target_stays_within_floor_and_cap(ramp: PollerRamp, steps: list[tuple[float, int | None, int]]) -> None:
    now = 0.0
    state = start(ramp, 4, now)
    for gap, received, cap in steps:
        now += gap
        state = advance(ramp, state, cap=cap, now=now, received=received)
        floor, ceiling = ramp.bounds(cap)
        assert floor <= state.target <= ceiling <= cap
        assert floor >= min(ramp.floor, cap, ramp.ceiling)


@given(ramps, st.lists(st.floats(0, 20, allow_nan=False), max_size=40), st.integers(1, 60))
def test_the_steps_agree_with_the_closed_form(ramp: PollerRamp, gaps: list[float], cap: int) -> None:
    """Under a backlog that never empties, stepping at any times gives what the model computes."""
    state = advance(ramp, start(ramp, cap, 0.0), cap=cap, now=0.0, received=1)
    now = 0.0
    for gap in gaps:
        now += gap
        state = advance(ramp, state, cap=cap, now=now, received=1)
        assert state.target == concurrency_after(ramp, now, cap)


@given(st.one_of(st.text(alphabet="0123456789:.-aws provisioned\u0661", max_size=24), st.text(max_size=8)))
def test_the_parser_takes_any_text_and_refuses_cleanly(spec: str) -> None:
    try:
        ramp = parse_ramp(spec)
    except RampError:
        return
    assert 1 <= ramp.floor <= ramp.initial <= ramp.ceiling


@pytest.mark.parametrize(
    "spec", ["", "fast", "0:12", "1:-1", "provisioned:1:5", "provisioned:3:2", "provisioned:2:2001", "1:nan", "1:1e9"]
)
def test_the_parser_refuses_what_aws_or_the_rule_refuses(spec: str) -> None:
    with pytest.raises(RampError):
        parse_ramp(spec)


def test_the_tracker_keeps_a_timeline_per_second() -> None:
    tracker = RampTracker(parse_ramp("1:60"), 3, 100.0)
    tracker.observe(10, 3, 100.0)
    tracker.sample(3, 1, 100.2)
    tracker.sample(3, 0, 100.7)
    tracker.sample(3, 2, 102.1)
    assert tracker.timeline() == [
        {"second": 100, "pollers": 1, "in_flight": 1},
        {"second": 102, "pollers": 3, "in_flight": 2},
    ]
    assert isinstance(RampState(1, 0.0, 1), RampState)
