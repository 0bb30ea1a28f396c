"""DynamoDB auto scaling as the meter emulates it: each target tracking rule, and any sequence of
utilisation checked against a plain restatement of the documented rules."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from nicelist.local.meter.autoscaling import ScalingPolicy, TargetTracking
from nicelist.local.meter.core import Meter
from nicelist.local.meter.protocol import Charge
from nicelist.local.meter.tables import TableSpec
from tests.unit.test_meter_limiter import FakeClock

POLICY = ScalingPolicy(min_capacity=10, max_capacity=1000, target=70.0)


def run(rules: TargetTracking, consumed: list[float], capacity: int, policy: ScalingPolicy = POLICY) -> list[int]:
    """Feed one datapoint a minute; the capacity follows each decision. Returns the capacities."""
    capacities = []
    for minute, units in enumerate(consumed, 1):
        decision = rules.observe(minute * 60.0, units, capacity, policy)
        if decision is not None:
            assert decision.before == capacity
            capacity = decision.after
        capacities.append(capacity)
    return capacities


def test_scale_out_after_two_minutes_above_the_target() -> None:
    # 100 WCU at 97 WCU/s: above 70 % for one minute is not enough, two are
    assert run(TargetTracking(), [97, 97], 100) == [100, 139]  # ceil(97 / 0.7)


def test_one_minute_above_between_minutes_below_does_not_scale() -> None:
    assert run(TargetTracking(), [97, 10, 97, 10, 97], 100) == [100] * 5


def test_scale_in_after_fifteen_minutes_twenty_points_below() -> None:
    # 100 WCU at 49 WCU/s (49 % < 50 %): the 15th minute scales in to ceil(49 / 0.7) = 70
    assert run(TargetTracking(), [49] * 15, 100) == [100] * 14 + [70]
    # at 50 % (not below 70 - 20) it never does
    assert run(TargetTracking(), [50] * 30, 100) == [100] * 30


def test_the_minimum_and_maximum_bound_every_change() -> None:
    assert run(TargetTracking(), [5000, 5000], 100) == [100, 1000]
    assert run(TargetTracking(), [0] * 15, 100) == [100] * 14 + [10]


def test_scale_out_cooldown_blocks_the_next_scale_out() -> None:
    policy = ScalingPolicy(10, 10_000, 70.0, scale_out_cooldown=180)
    # scaled at minute 2; minutes 3-4 are within 180 s of it; minute 5 (180 s later) scales again
    assert run(TargetTracking(), [97, 97, 500, 500, 500], 100, policy) == [100, 139, 139, 139, 715]


def test_scale_in_cooldown_blocks_scale_in_but_not_scale_out() -> None:
    policy = ScalingPolicy(10, 10_000, 70.0, scale_in_cooldown=3600)
    rules = TargetTracking()
    capacities = run(rules, [20] * 15, 100, policy)
    assert capacities[-1] == 29  # ceil(20 / 0.7)
    # 20 idle minutes later (15 of them below 50 % of 29): the cooldown (an hour) blocks a second scale in
    assert run_from(rules, 16, [0] * 20, 29, policy)[-1] == 29
    # a surge during the cooldown scales out at once
    assert run_from(rules, 36, [28, 28], 29, policy)[-1] == 40


def run_from(
    rules: TargetTracking, first: int, consumed: list[float], capacity: int, policy: ScalingPolicy
) -> list[int]:
    capacities = []
    for minute, units in enumerate(consumed, first):
        decision = rules.observe(minute * 60.0, units, capacity, policy)
        capacity = decision.after if decision is not None else capacity
        capacities.append(capacity)
    return capacities


def test_disable_scale_in() -> None:
    policy = ScalingPolicy(10, 1000, 70.0, disable_scale_in=True)
    assert run(TargetTracking(), [0] * 20, 100, policy) == [100] * 20


def oracle(consumed: list[float], capacity: int, policy: ScalingPolicy) -> list[int]:
    """The documented rules restated plainly, one minute at a time."""
    capacities, last_out, last_in = [], -math.inf, -math.inf
    for i, units in enumerate(consumed):
        at = (i + 1) * 60.0
        history = consumed[: i + 1]
        if len(history) >= 2 and min(history[-2:]) > capacity * policy.target / 100:
            wanted = max(policy.min_capacity, min(policy.max_capacity, math.ceil(units * 100 / policy.target)))
            if wanted > capacity and at - last_out >= policy.scale_out_cooldown:
                capacity, last_out = wanted, at
        elif len(history) >= 15 and max(history[-15:]) < capacity * (policy.target - 20) / 100:
            wanted = max(policy.min_capacity, min(policy.max_capacity, math.ceil(units * 100 / policy.target)))
            if wanted < capacity and at - last_in >= policy.scale_in_cooldown and not policy.disable_scale_in:
                capacity, last_in = wanted, at
        capacities.append(capacity)
    return capacities


@given(
    st.lists(st.integers(0, 3000).map(float), min_size=1, max_size=60),
    st.integers(25, 95).map(float),
    st.sampled_from([0.0, 60.0, 300.0]),
    st.sampled_from([0.0, 120.0, 900.0]),
)
def test_any_sequence_scales_as_the_documented_rules_say(
    consumed: list[float], target: float, out_cooldown: float, in_cooldown: float
) -> None:
    policy = ScalingPolicy(5, 2000, target, out_cooldown, in_cooldown)
    capacities = run(TargetTracking(), consumed, 100, policy)
    assert capacities == oracle(consumed, 100, policy)
    assert all(policy.min_capacity <= c <= policy.max_capacity for c in capacities[1:] or [policy.min_capacity])


# -- the meter's side: the capacity auto scaling sets wins, and every second knows its capacity ---


def test_a_rescale_beats_the_meters_own_capacity_and_each_second_records_its_capacity() -> None:
    # GIVEN a meter told 100 WCU for the table (the stack's --capacity)
    clock = FakeClock(1_000.0)
    meter = Meter({"t": 100}, burst_seconds=0, clock=clock)
    meter.settle(meter.admit_all([Charge("t", 100)]))
    assert meter.admit_all([Charge("t", 1)]).refused
    # WHEN auto scaling raises it to 300 WCU half-way through the next second
    clock.now = 1_001.5
    spec = TableSpec("t", hash_key="pk", write_capacity=300)
    meter.rescale(spec, {"at": 60, "from": 100, "to": 300, "cause": "test"})
    # THEN 300 are admitted in that second, and the series says which capacity each second had
    meter.settle(meter.admit_all([Charge("t", 300)]))
    assert meter.capacity("t") == 300
    clock.now = 1_002.2
    table = meter.stats(last_seconds=3)["tables"]["t"]
    assert [(s["second"], s["units"], s["capacity"]) for s in table["series"]] == [
        (1_000, 100, 100),
        (1_001, 300, 300),
        (1_002, 0, 300),
    ]
    assert table["scaling_activities"][0]["to"] == 300


def test_consumed_is_the_mean_per_second_over_whole_seconds() -> None:
    clock = FakeClock(1_000.2)
    meter = Meter({"t": 100}, clock=clock)
    for second, units in [(1_000.2, 30), (1_001.7, 60), (1_003.0, 90)]:
        clock.now = second
        meter.settle(meter.admit_all([Charge("t", units)]))
    assert meter.consumed("t", 1_000.0, 1_003.0) == 30  # (30 + 60 + 0) / 3
    assert meter.consumed("t", 1_000.5, 1_004.9) == 45  # seconds 1000..1003
    assert meter.consumed("nothing", 0, 10) == 0
