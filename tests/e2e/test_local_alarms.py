"""The local stack's alarms fire and clear (nicelist/local/emulator.py): a direct writer's throttling fires
the table's alarm until clean writes clear it; a buffered spike fires only the queue-age alarm, once its
backlog ages past a low threshold, and clears it when drained. One stack, both stories at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.config import Config

from contract.names import StageNames
from nicelist.demo.direct import THREADS as DIRECT_THREADS
from nicelist.demo.direct import DirectSender
from nicelist.demo.run import DemoOptions, plan
from nicelist.demo.sender import ApiSender
from nicelist.demo.workload import Phase
from nicelist.local.notifications import read_notifications
from nicelist.local.processes import free_port
from nicelist.local.stack import LocalStack, StackConfig

pytestmark = pytest.mark.e2e

DIRECT = "local-direct"


def _until(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def test_alarms_fire_and_clear_on_the_local_stack(tmp_path: Path) -> None:
    # GIVEN the stack with the queue-age alarm at 5 s (AWS: 900) and a second, direct-write table
    config = StackConfig(
        moto_port=free_port(), meter_port=free_port(), api_port=free_port(), control_port=free_port(),
        capacity=50, queue_age_alarm=5, run_dir=tmp_path, watch_health=False,
    )  # fmt: skip
    log = tmp_path / "notifications.log"

    def changes() -> list[tuple[str, str]]:
        return [(line["alarm"], line["state"]) for line in read_notifications(log)]

    throttles, queue_age = StageNames(DIRECT).alarm("table-write-throttles"), StageNames("local").alarm("queue-age")
    with LocalStack(config, extra_stages=[DIRECT]) as stack:
        phases, updates = plan(DemoOptions(updates=1000), config.capacity)
        dynamodb = stack.client("dynamodb", metered=True, config=Config(max_pool_connections=DIRECT_THREADS))
        # WHEN producers write straight to the direct table at 15 x its capacity, as the --direct demo does
        DirectSender(dynamodb, StageNames(DIRECT).table).run([Phase("spike", 1000, 500.0)], updates[:1000])
        # AND a spike of 1,000 updates goes through the API to the buffered stage (~30 s of backlog)
        sender = ApiSender(stack.api_url, config.api_key)
        sending = threading.Thread(target=sender.run, args=(phases, updates, threading.Event()))
        sending.start()
        # THEN the throttle alarm fires
        _until(lambda: (throttles, "ALARM") in changes(), 60, "the throttle alarm")
        # AND clean writes under capacity, for three periods, clear it
        DirectSender(dynamodb, StageNames(DIRECT).table).run([Phase("gentle", 175, 5.0)], updates[:175])
        _until(lambda: (throttles, "OK") in changes(), 60, "the throttle alarm to clear")
        # AND the buffered backlog ages past 5 s: the queue-age alarm fires, and clears once drained
        sending.join()
        _until(lambda: (queue_age, "ALARM") in changes(), 120, "the queue-age alarm")
        _until(lambda: (queue_age, "OK") in changes(), 120, "the queue-age alarm to clear")
        assert sender.counts.accepted > 0
    # AND each fired once and cleared once, and no other alarm changed state
    assert [state for name, state in changes() if name == throttles] == ["ALARM", "OK"]
    assert [state for name, state in changes() if name == queue_age] == ["ALARM", "OK"]
    assert {name for name, _ in changes()} == {throttles, queue_age}
