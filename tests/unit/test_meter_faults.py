"""The meter's fault knobs (throttle share, outage, missing tables), with a fake clock and a seeded draw."""

from __future__ import annotations

import random
import threading
import time

import pytest

from nicelist.local.meter.core import Meter
from nicelist.local.meter.faults import FaultError, Faults
from nicelist.local.meter.protocol import Charge, tables_named
from tests.unit.test_meter_limiter import FakeClock


def test_nothing_is_injected_by_default() -> None:
    faults = Faults(clock=FakeClock(), rng=random.Random(1))
    assert not any(faults.throttle() for _ in range(100))
    assert faults.throttle_each(25) == (False,) * 25
    assert faults.outage() is None
    assert faults.missing(["t"]) is None
    stats = faults.stats()
    assert (stats["injected_throttles"], stats["outage_answers"], stats["missing_answers"]) == (0, 0, 0)


def test_a_throttle_share_refuses_about_that_share_of_writes() -> None:
    faults = Faults(clock=FakeClock(), rng=random.Random(7))
    faults.configure({"throttle_share": 0.2})
    refused = sum(faults.throttle() for _ in range(5_000))
    assert 900 < refused < 1_100
    assert faults.stats()["injected_throttles"] == refused


def test_a_batch_is_drawn_item_by_item_and_refused_whole_only_when_every_item_is() -> None:
    faults = Faults(clock=FakeClock(), rng=random.Random(3))
    faults.configure({"throttle_share": 0.5})
    drawn = faults.throttle_each(25)
    assert 0 < sum(drawn) < 25
    assert faults.stats()["injected_unprocessed"] == sum(drawn)
    faults.configure({"throttle_share": 1.0})
    assert faults.throttle_each(3) == (True, True, True)
    assert faults.stats()["injected_throttles"] == 1


def test_refused_entries_of_a_batch_take_no_capacity() -> None:
    meter = Meter({"t": 10}, clock=FakeClock(1_000.5))
    admission = meter.admit_each([Charge("t", 4), Charge("t", 4), Charge("t", 4)], refuse=(True, False, False))
    assert admission.admitted == (False, True, True)  # the third fits because the first took nothing
    meter.settle(admission)
    totals = meter.stats()["tables"]["t"]["totals"]
    assert (totals["units"], totals["throttled_units"], totals["throttle_events"]) == (8, 4, 1)


def test_an_injected_refusal_is_recorded_as_a_throttle_and_takes_nothing() -> None:
    meter = Meter({"t": 2}, clock=FakeClock(1_000.5))
    meter.settle(meter.refuse([Charge("t", 1)]))
    assert meter.admit_all([Charge("t", 2)]).admitted == (True,)
    assert meter.stats()["tables"]["t"]["totals"]["throttled_units"] == 1


def test_an_outage_lasts_until_lifted_and_is_recorded() -> None:
    clock = FakeClock(100.0)
    faults = Faults(clock=clock)
    faults.configure({"down": True, "mode": "reset"})
    assert faults.outage() == "reset"
    assert faults.stats()["down_since"] == 100.0
    clock.now = 130.0
    faults.configure({"down": False})
    assert faults.outage() is None
    stats = faults.stats()
    assert stats["outages"] == [{"start": 100.0, "end": 130.0, "mode": "reset"}]
    assert stats["outage_answers"] == 1


def test_an_outage_for_some_seconds_ends_by_itself() -> None:
    clock = FakeClock(100.0)
    faults = Faults(clock=clock)
    faults.configure({"down": True, "for_seconds": 30})
    assert faults.outage() == "503"
    clock.now = 129.9
    assert faults.outage() == "503"
    clock.now = 131.0
    assert faults.outage() is None
    assert faults.stats()["outages"] == [{"start": 100.0, "end": 130.0, "mode": "503"}]


def test_a_hanging_answer_is_released_when_the_outage_ends() -> None:
    faults = Faults()
    faults.configure({"down": True, "mode": "hang"})
    released = threading.Event()

    def hang() -> None:
        faults.wait_until_up(timeout=10)
        released.set()

    threading.Thread(target=hang, daemon=True).start()
    time.sleep(0.1)
    assert not released.is_set()
    faults.configure({"down": False})
    assert released.wait(2)


def test_missing_tables_are_named_and_clear_lifts_everything() -> None:
    faults = Faults(clock=FakeClock())
    faults.configure({"missing_tables": ["gone"], "throttle_share": 1.0, "down": True})
    assert faults.missing(["kept", "gone"]) == "gone"
    faults.configure({"clear": True})
    stats = faults.stats()
    assert (stats["missing_tables"], stats["throttle_share"], stats["down"]) == ([], 0.0, False)
    assert faults.missing(["gone"]) is None


@pytest.mark.parametrize(
    "payload",
    [
        {"throttle_share": 1.5},
        {"throttle_share": True},
        {"down": "yes"},
        {"down": True, "mode": "sometimes"},
        {"down": True, "for_seconds": 0},
        {"missing_tables": "t"},
        {"nonsense": 1},
        [],
    ],
)
def test_bad_settings_are_refused_and_change_nothing(payload: object) -> None:
    faults = Faults(clock=FakeClock())
    with pytest.raises(FaultError):
        faults.configure(payload)  # type: ignore[arg-type]
    assert faults.stats()["throttle_share"] == 0.0 and not faults.stats()["down"]


def test_the_tables_a_request_names() -> None:
    assert tables_named({"TableName": "a"}) == ["a"]
    assert tables_named({"RequestItems": {"a": [], "b": []}}) == ["a", "b"]
    assert tables_named({"TransactItems": [{"Put": {"TableName": "c"}}, {"Update": {"TableName": "d"}}]}) == ["c", "d"]
    assert tables_named([]) == []
