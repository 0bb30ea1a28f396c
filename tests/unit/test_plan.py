"""The planning model of ``nicelist plan`` (nicelist/plan.py): a fluid queue drained at W / u updates/s."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from nicelist.plan import (
    Assumptions,
    PlanError,
    Profile,
    Table,
    batch_size_for,
    concurrency_for,
    finish_time,
    make_plan,
    parse_deadline,
    parse_duration,
    plan_command,
    read_arrivals,
    read_plan,
    required_rate,
)


def test_a_backlog_drains_in_backlog_over_rate() -> None:
    profile = Profile(backlog=97_000)
    assert finish_time(profile, 97.0) == pytest.approx(1000)
    assert required_rate(profile, 500) == pytest.approx(194)


def test_arrivals_slower_than_the_drain_finish_with_the_last_arrival() -> None:
    profile = Profile(starts=(0.0,), rates=(10.0,), end=100.0)
    assert finish_time(profile, 50.0) == pytest.approx(100)
    assert required_rate(profile, 100) == pytest.approx(10)


def test_a_spike_then_quiet_drains_after_the_spike() -> None:
    # 1,000/s for 60 s, then 10/s until 600 s: 60,000 + 5,400 updates
    profile = Profile(starts=(0.0, 60.0), rates=(1000.0, 10.0), end=600.0)
    assert profile.total == pytest.approx(65_400)
    drain = 100.0
    # the queue is busy from 0 on: 65,400 / 100 = 654 s, later than the last arrival at 600 s
    assert finish_time(profile, drain) == pytest.approx(654)
    assert finish_time(profile, required_rate(profile, 654)) == pytest.approx(654)


def test_arrivals_up_to_the_deadline_need_an_infinite_rate_only_after_it() -> None:
    profile = Profile(starts=(0.0,), rates=(5.0,), end=100.0)
    assert math.isinf(required_rate(profile, 50))


def test_durations_and_deadlines() -> None:
    assert parse_duration("1h30m") == 5400
    assert parse_duration("90m") == 5400
    assert parse_duration("45s") == 45
    assert parse_duration("120") == 120
    now = dt.datetime(2026, 12, 23, 18, 0, tzinfo=dt.UTC)
    assert parse_deadline("2026-12-23T20:00:00Z", now) == 7200
    assert 0 < parse_deadline("06:00", now) <= 24 * 3600
    for bad in ("soon", "", "2026-12-23T20:00:00"):
        with pytest.raises(PlanError):
            parse_deadline(bad, now)


def test_arrival_csv(tmp_path: Path) -> None:
    path = tmp_path / "arrivals.csv"
    path.write_text("seconds,updates_per_second\n0,100\n60,1000\n120,0\n")
    profile = read_arrivals(path, backlog=500)
    assert profile.total == pytest.approx(500 + 6000 + 60_000)
    path.write_text("0,100\n60,5\n")
    with pytest.raises(PlanError, match="rate 0"):
        read_arrivals(path)


def test_concurrency_spends_w_and_the_batch_fits_the_timeout() -> None:
    assumptions = Assumptions(execution_wcu=500, batch_size=10)
    assert concurrency_for(97, assumptions) == 2  # AWS's minimum
    assert concurrency_for(3880, assumptions) == 8
    # 1,000-update envelopes at a share of 97/2 WCU/s: 1,375 units take 28 s; 56 s usable: 2 fit, not 10
    envelopes = Assumptions(updates_per_message=1000, batch_size=10)
    assert batch_size_for(97, 2, envelopes) == 1
    assert batch_size_for(970, 2, envelopes) == 10


def test_a_provisioned_table_that_is_too_small() -> None:
    plan = make_plan(Profile(backlog=1_000_000), 3600, Table(100), Assumptions())
    assert plan.write_rate == 97
    assert not plan.deadline_met
    assert plan.needed_write_rate == pytest.approx(1_000_000 * 1.375 / 3600, abs=0.1)
    assert plan.prewarm_wcu == 394
    assert any("provisioned WCU to >= 394" in line for line in plan.advice)


def test_an_on_demand_table_within_its_warm_throughput() -> None:
    plan = make_plan(Profile(backlog=1_000_000), 3600, Table(40_000, on_demand=True), Assumptions())
    assert plan.write_rate == 3880  # 0.97 x 4,000: what a new on-demand table takes at once
    assert plan.deadline_met and plan.prewarm_wcu is None
    assert plan.concurrency == 8


def test_an_on_demand_peak_beyond_warm_throughput_needs_a_pre_warm() -> None:
    plan = make_plan(Profile(backlog=30_000_000), 3600, Table(40_000, on_demand=True), Assumptions())
    assert not plan.deadline_met
    assert plan.prewarm_wcu == math.ceil(30_000_000 * 1.375 / 3600 / 0.97)


def test_the_command_prints_json_tune_can_apply() -> None:
    result = CliRunner().invoke(
        plan_command, ["--backlog", "50000", "--deadline", "30m", "--table-wcu", "100", "--json"]
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["apply"] == {"write_rate": 97.0, "concurrency": 2, "batch_size": 10, "batching_window": 0}
    late = CliRunner().invoke(plan_command, ["--backlog", "500000", "--deadline", "30m", "--table-wcu", "100"])
    assert late.exit_code == 1
    assert "NOT met" in late.output
    both = CliRunner().invoke(plan_command, ["--backlog", "5", "--deadline", "30m", "--table-wcu", "1", "--on-demand"])
    assert both.exit_code == 2


def test_the_23_december_plan_chooses_a_table_and_meets_midnight_in_the_tables_region() -> None:
    args = ["--profile", "december-23", "--updates", "18000000", "--updates-per-message", "20", "--json"]
    result = CliRunner().invoke(plan_command, [*args, "--region", "eu-west-1"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    model = plan["model"]
    assert model["deadline_at"].endswith("-12-24T00:00+00:00")  # Europe/Dublin in December
    assert model["table"]["mode"] == "provisioned" and plan["deadline_met"]
    assert model["finish_seconds"] <= 86400 and model["spare_seconds"] >= 0
    assert model["cost"]["direct_on_demand"] > model["cost"]["dollars"]
    assert model["at_twice_the_spike"][0].startswith("the deadline")
    assert plan["write_rate"] >= plan["needed_write_rate"]  # the simulation needs at least the closed form


def test_plan_options_that_cannot_be_used() -> None:
    base = ["--profile", "december-23"]
    for extra in (["--auto-scaling", "9:3"], ["--region", "mars-north-1"], ["--time-zone", "Nowhere/Land"]):
        assert CliRunner().invoke(plan_command, [*base, *extra]).exit_code == 2
    assert CliRunner().invoke(plan_command, ["--backlog", "10"]).exit_code == 2  # no deadline without the day


def test_read_plan_refuses_json_nested_too_deep(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(PlanError):
        read_plan(path)
