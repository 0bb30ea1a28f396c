"""The spike's load shapes (``loadtests/shapes.py``): each schedule follows its story, then stops by itself."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests.shapes import SHAPE_VARIABLE, SHAPES, BurstPlan, SawtoothPlan, SurgePlan, plan_from_env


def test_the_surge_is_quiet_then_ten_times_then_quiet_then_over() -> None:
    plan = SurgePlan(baseline_users=2, factor=10, quiet_seconds=10, spike_seconds=20, after_seconds=5)

    assert plan.at(0) == (2, 2.0)
    assert plan.at(9.9) == (2, 2.0)
    assert plan.at(10) == (20, 20.0)
    assert plan.at(29.9) == (20, 20.0)
    assert plan.at(30)[0] == 2  # type: ignore[index]
    assert plan.at(35) is None
    assert plan.max_seconds == 35


def test_spike_users_never_fall_below_the_baseline() -> None:
    assert SurgePlan(baseline_users=3, factor=1.2).spike_users == 4
    assert SurgePlan(baseline_users=1, factor=1).spike_users == 1


def test_the_burst_ends_when_every_update_is_handed_out_or_at_its_time_limit() -> None:
    plan = BurstPlan(updates=1000, users=4, limit_seconds=30)

    assert plan.at(0, sent=0) == (4, 4.0)
    assert plan.at(5, sent=999) == (4, 4.0)
    assert plan.at(5, sent=1000) is None  # all sent: over at once, however early
    assert plan.at(30, sent=10) is None  # the backstop


def test_the_sawtooth_ramps_up_drops_at_once_and_ends_after_its_teeth() -> None:
    plan = SawtoothPlan(peak_users=5, tooth_seconds=10, teeth=2)

    users = [plan.at(t)[0] for t in range(20)]  # type: ignore[index]

    assert users == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5] * 2
    assert plan.at(20) is None and plan.max_seconds == 20


@given(
    plan=st.one_of(
        st.builds(SurgePlan, st.integers(1, 50), st.floats(1, 20), *[st.floats(0, 100)] * 3),
        st.builds(BurstPlan, st.integers(1, 10**6), st.integers(1, 50), st.floats(0.1, 300)),
        st.builds(SawtoothPlan, st.integers(1, 50), st.floats(0.1, 100), st.integers(1, 20)),
    ),
    late=st.floats(0, 10**6),
    sent=st.integers(0, 10**7),
)
def test_every_shape_stops_by_itself_and_never_asks_for_zero_users(
    plan: SurgePlan | BurstPlan | SawtoothPlan, late: float, sent: int
) -> None:
    # past its end (or, for the burst, once all is sent) a shape is over whatever else happens
    assert plan.at(plan.max_seconds + late, sent) is None
    if isinstance(plan, BurstPlan):
        assert plan.at(0, plan.updates + sent) is None
    # before that, it asks for at least one user at a positive spawn rate
    for step in range(10):
        tick = plan.at(plan.max_seconds * step / 10, 0)
        assert tick is None or (tick[0] >= 1 and tick[1] > 0)


@pytest.mark.parametrize("plan", [SurgePlan(4, 8, 1.5, 2, 0), BurstPlan(500, 2, 9.5), SawtoothPlan(3, 4.5, 2)])
def test_each_plan_round_trips_through_the_environment_with_its_name(plan: SurgePlan) -> None:
    env = plan.as_env()

    assert env[SHAPE_VARIABLE] == plan.name
    assert plan_from_env(env) == plan
    assert type(plan).from_env({}) == type(plan)()


def test_the_default_shape_is_the_surge_and_an_unknown_one_is_refused() -> None:
    assert plan_from_env({}) == SurgePlan()
    assert set(SHAPES) == {"surge", "burst", "sawtooth"}
    with pytest.raises(ValueError, match="surge, burst, sawtooth"):
        plan_from_env({SHAPE_VARIABLE: "square"})


VARIABLES = sorted({v for p in SHAPES.values() for v in p.variables.values()})
VALUES = st.one_of(st.text(), st.integers().map(str), st.floats().map(str), st.sampled_from(["inf", "-inf", "nan"]))


@given(st.dictionaries(st.sampled_from(VARIABLES), VALUES))
def test_any_environment_gives_a_plan_that_ends_or_a_value_error(env: dict[str, str]) -> None:
    for name in SHAPES:
        try:
            plan = plan_from_env({**env, SHAPE_VARIABLE: name})
        except ValueError:
            continue
        assert math.isfinite(plan.max_seconds)  # "inf" or "nan" would run for ever, or not at all
        assert plan.at(plan.max_seconds, 0) is None


@pytest.mark.parametrize(
    "bad",
    [
        lambda: SurgePlan(baseline_users=0),
        lambda: SurgePlan(factor=0.5),
        lambda: SurgePlan(spike_seconds=-1),
        lambda: BurstPlan(updates=0),
        lambda: BurstPlan(limit_seconds=0),
        lambda: SawtoothPlan(teeth=0),
        lambda: SawtoothPlan(tooth_seconds=0),
    ],
)
def test_nonsense_plans_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]
