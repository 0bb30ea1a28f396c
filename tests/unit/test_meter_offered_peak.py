"""With burst credit the meter may accept more than the capacity: the writers' own peak (accepted +
throttled units per second) is recorded and reported beside the accepted one."""

from __future__ import annotations

from nicelist.demo.report import rate_figures
from nicelist.local.meter.core import Meter
from nicelist.local.meter.protocol import Charge
from tests.unit.test_meter_limiter import FakeClock


def test_the_meter_records_the_peak_offered_with_the_throttled_units() -> None:
    meter = Meter({"t": 10}, burst_seconds=0, clock=FakeClock(1_000.5))
    for _ in range(3):
        meter.settle(meter.admit_all([Charge("t", 6)]))  # 6 accepted, then 6 and 6 refused
    table = meter.stats()["tables"]["t"]
    assert (table["peak_units_per_second"], table["peak_offered_units_per_second"]) == (6, 18)


def test_the_demo_reports_the_offered_peak_and_which_meter_ran() -> None:
    series = [
        {"second": 10, "units": 120, "throttled_units": 0, "requests": 5, "throttle_events": 0},
        {"second": 11, "units": 90, "throttled_units": 30, "requests": 5, "throttle_events": 2},
        {"second": 12, "units": 80, "throttled_units": 50, "requests": 5, "throttle_events": 2},
    ]
    rates = rate_figures(series, 100.0, 97.0, 10, burst_seconds=300)
    assert (rates.peak_ratio, rates.offered_ratio) == (1.2, 1.3)
    assert rates.meter_mode == "burst credit 300 s (as DynamoDB)"
    assert rate_figures(series, 100.0, 97.0, 10).meter_mode == "strict: no burst credit (--burst-seconds 0)"
