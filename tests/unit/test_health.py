"""The health watcher: an outage is reported after two failed probes, its recovery with how long it lasted."""

from __future__ import annotations

import time

from botocore.exceptions import ClientError, EndpointConnectionError

from nicelist.local.health import HealthEvent, HealthWatcher, Probe, aws_check
from tests.unit.test_meter_limiter import FakeClock


class Flaky:
    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self) -> str | None:
        return self.reason


def test_one_failed_probe_is_not_an_outage_two_are_and_the_recovery_says_how_long() -> None:
    clock, flaky, seen = FakeClock(1_000.0), Flaky(), []
    probe = Probe("DynamoDB (meter)", flaky)
    watcher = HealthWatcher([probe], on_event=seen.append, clock=clock)
    flaky.reason = "ConnectionClosedError"
    assert watcher.check(probe) is None  # one failure: could be a slow moment
    clock.now = 1_001.0
    down = watcher.check(probe)
    assert down is not None and down.kind == "down" and down.since == 1_000.0
    assert watcher.status() == {"DynamoDB (meter)": False}
    clock.now = 1_002.0
    assert watcher.check(probe) is None  # still down: said once
    flaky.reason = None
    clock.now = 1_031.0
    up = watcher.check(probe)
    assert up is not None and up.kind == "up" and up.down_seconds == 31.0
    assert "recovered after 31 s" in up.message()
    assert seen == [down, up] == watcher.events()


def test_a_failure_that_clears_before_the_alarm_is_forgotten() -> None:
    clock, flaky = FakeClock(), Flaky()
    probe = Probe("x", flaky)
    watcher = HealthWatcher([probe], clock=clock)
    flaky.reason = "slow"
    watcher.check(probe)
    flaky.reason = None
    watcher.check(probe)
    flaky.reason = "slow"
    assert watcher.check(probe) is None
    assert watcher.events() == []


def test_the_message_names_the_component_the_time_and_the_hint() -> None:
    event = HealthEvent("embedded AWS (moto)", "down", 1_000.0, 999.0, "EndpointConnectionError", "state is gone")
    since = time.strftime("%H:%M:%S", time.localtime(999.0))
    assert event.message() == f"embedded AWS (moto) unreachable since {since} (EndpointConnectionError); state is gone"
    assert event.as_dict()["down_seconds"] == 1.0


def test_a_probe_that_raises_counts_as_a_failure_not_a_dead_watcher() -> None:
    def broken() -> str | None:
        raise RuntimeError("boom")

    probe = Probe("x", broken)
    watcher = HealthWatcher([probe], failures_to_alarm=1, clock=FakeClock())
    event = watcher.check(probe)
    assert event is not None and "RuntimeError: boom" in event.reason


def test_aws_checks_name_the_error_code_or_the_connection_failure() -> None:
    def refused() -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    def missing() -> None:
        response = {"Error": {"Code": "ResourceNotFoundException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
        raise ClientError(response, "DescribeTable")  # type: ignore[arg-type]

    assert aws_check(refused)() == "EndpointConnectionError"
    assert aws_check(missing)() == "ResourceNotFoundException, HTTP 400"
    assert aws_check(lambda: None)() is None


def test_the_watcher_runs_its_probes_in_threads_until_stopped() -> None:
    calls: list[float] = []

    def healthy() -> str | None:
        calls.append(time.monotonic())
        return None

    watcher = HealthWatcher([Probe("x", healthy)], interval=0.05).start()
    time.sleep(0.3)
    watcher.stop()
    assert len(calls) >= 3
