"""The demo reads the meter's whole run, not its last 300 s (the meter's query parameter is ``seconds``)."""

from __future__ import annotations

from typing import Any

from nicelist.demo.monitor import MeterReader
from nicelist.local.meter import DynamoMeter
from tests.functional.test_meter_proxy import TABLE, _put, client, clock, meter, moto_url
from tests.unit.test_meter_limiter import FakeClock

__all__ = ["client", "clock", "meter", "moto_url"]  # fixtures shared with the meter's own tests


def test_a_run_longer_than_300_s_is_read_from_its_first_second(
    client: Any, meter: DynamoMeter, clock: FakeClock
) -> None:
    # GIVEN a write in the first second of a run, and the run going on for 400 s
    client.put_item(**_put("a"))
    first = int(clock())
    clock.now += 400
    # WHEN the demo reads the meter for the run's length
    series = MeterReader(meter.url, TABLE).table_stats(last_seconds=410)["series"]
    # THEN the first second is there (asking with a parameter the meter ignores gave the last 300 s)
    seconds = [int(point["second"]) for point in series]
    assert first in seconds
    assert min(seconds) <= first
