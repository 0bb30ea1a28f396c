"""The spike plan of the Locust shape: quiet, ~10x users, quiet again, then it stops by itself."""

from __future__ import annotations

import pytest

from loadtests.shapes import SpikePlan


def test_the_story_is_quiet_then_ten_times_then_quiet_then_over() -> None:
    plan = SpikePlan(baseline_users=2, factor=10, quiet_seconds=10, spike_seconds=20, after_seconds=5)

    assert plan.at(0) == (2, 2.0)
    assert plan.at(9.9) == (2, 2.0)
    assert plan.at(10) == (20, 20.0)
    assert plan.at(29.9) == (20, 20.0)
    assert plan.at(30)[0] == 2  # type: ignore[index]
    assert plan.at(35) is None
    assert plan.total_seconds == 35


def test_spike_users_never_fall_below_the_baseline() -> None:
    assert SpikePlan(baseline_users=3, factor=1.2).spike_users == 4
    assert SpikePlan(baseline_users=1, factor=1).spike_users == 1


def test_the_plan_round_trips_through_the_environment() -> None:
    plan = SpikePlan(baseline_users=4, factor=8, quiet_seconds=1.5, spike_seconds=2, after_seconds=0)

    assert SpikePlan.from_env(plan.as_env()) == plan
    assert SpikePlan.from_env({}) == SpikePlan()


@pytest.mark.parametrize("bad", [{"baseline_users": 0}, {"factor": 0.5}, {"spike_seconds": -1}])
def test_nonsense_plans_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SpikePlan(**bad)  # type: ignore[arg-type]
