"""The meter's admission and per-second ledgers, and how a BatchWriteItem is split, with a fake clock."""

from __future__ import annotations

from typing import Any

from nicelist.local.meter import protocol
from nicelist.local.meter.core import Meter
from nicelist.local.meter.protocol import Charge
from tests.unit.test_meter_limiter import FakeClock


def _put(key: str, size: int = 0) -> dict[str, Any]:
    item = {"pk": {"S": key}} | ({"blob": {"S": "x" * size}} if size else {})
    return {"PutRequest": {"Item": item}}


def test_admitted_writes_are_recorded_per_table_per_second() -> None:
    clock = FakeClock(1_000.5)
    meter = Meter({"t": 10}, clock=clock)
    meter.settle(meter.admit_all([Charge("t", 2)]))
    clock.now = 1_001.1
    meter.settle(meter.admit_all([Charge("t", 3)]))
    table = meter.stats(last_seconds=3)["tables"]["t"]
    assert table["capacity"] == 10
    assert table["totals"] == {"units": 5, "throttled_units": 0, "requests": 2, "throttle_events": 0}
    assert [s["units"] for s in table["series"]] == [0, 2, 3]
    assert [s["second"] for s in table["series"]] == [999, 1_000, 1_001]
    assert (table["peak_units_per_second"], table["peak_second"]) == (3, 1_001)


def test_a_refused_write_is_a_throttle_event_and_takes_nothing() -> None:
    meter = Meter({"t": 2}, clock=FakeClock())
    meter.settle(meter.admit_all([Charge("t", 2)]))
    refused = meter.admit_all([Charge("t", 1)])
    assert refused.refused
    meter.settle(refused)
    totals = meter.stats()["tables"]["t"]["totals"]
    assert totals["throttled_units"] == 1
    assert totals["throttle_events"] == 1


def test_a_transaction_needs_room_in_every_table() -> None:
    meter = Meter({"a": 10, "b": 1}, clock=FakeClock())
    assert meter.admit_all([Charge("a", 2), Charge("b", 2)]).refused
    assert meter.capacity("a") == 10
    assert not meter.admit_all([Charge("a", 10)]).refused  # nothing was taken from "a" by the refusal


def test_uncharged_failures_give_their_units_back() -> None:
    meter = Meter({"t": 1}, clock=FakeClock())
    meter.settle(meter.admit_all([Charge("t", 1)]), charged=False)  # e.g. a ValidationException upstream
    assert not meter.admit_all([Charge("t", 1)]).refused
    assert meter.stats()["tables"]["t"]["totals"]["units"] == 0


def test_not_enforcing_records_but_never_refuses() -> None:
    meter = Meter(default_capacity=1, enforce=False, clock=FakeClock())
    assert not any(meter.admit_all([Charge("t", 5)]).refused for _ in range(3))


def test_default_and_per_table_capacity_change_at_runtime() -> None:
    meter = Meter(default_capacity=1, clock=FakeClock())
    assert not meter.admit_all([Charge("t", 1)]).refused
    assert meter.admit_all([Charge("t", 1)]).refused
    meter.set_default_capacity(5)
    assert not meter.admit_all([Charge("t", 4)]).refused
    meter.set_capacity("t", None)
    assert not meter.admit_all([Charge("t", 1_000)]).refused
    assert meter.stats()["capacity"] == {"t": None}


def test_old_seconds_are_pruned_but_totals_and_peak_stay() -> None:
    clock = FakeClock(0.0)
    meter = Meter(retention_seconds=10, clock=clock)
    for second in range(30):
        clock.now = float(second)
        meter.settle(meter.admit_all([Charge("t", 1 + (second == 3))]))
    assert meter.stats()["tables"]["t"]["totals"]["units"] == 31
    assert meter.stats()["tables"]["t"]["peak_units_per_second"] == 2
    meter.reset()
    assert meter.stats()["tables"] == {}


def test_a_batch_is_split_in_request_order_into_accepted_and_unprocessed() -> None:
    meter = Meter({"t": 3, "u": 0}, clock=FakeClock())
    request_items = {"t": [_put("a"), _put("big", 1_500), _put("b"), _put("c")], "u": [_put("z")]}
    entries = protocol.batch_entries(request_items)
    admission = meter.admit_each([charge for _, _, charge in entries])
    accepted, unprocessed = protocol.split_batch(entries, admission.admitted)
    assert accepted == {"t": [_put("a"), _put("big", 1_500)]}
    assert unprocessed == {"t": [_put("b"), _put("c")], "u": [_put("z")]}
    assert admission.accepted == (Charge("t", 1), Charge("t", 2))
    assert sum(c.units for c in admission.throttled) == 3


def test_units_are_recorded_in_the_second_they_were_admitted() -> None:
    # a write admitted at the end of one second and answered in the next counts in the first,
    # the second the limiter charged, so the ledger never shows more than the capacity
    clock = FakeClock(1_000.999)
    meter = Meter({"t": 2}, clock=clock)
    late = meter.admit_all([Charge("t", 2)])
    clock.now = 1_001.001
    meter.settle(meter.admit_all([Charge("t", 2)]))
    meter.settle(late)
    table = meter.stats(last_seconds=2)["tables"]["t"]
    assert [s["units"] for s in table["series"]] == [2, 2]
    assert table["peak_units_per_second"] == 2


def test_charges_of_single_writes_and_transactions() -> None:
    put = {"TableName": "t", "Item": {"pk": {"S": "a"}, "blob": {"S": "x" * 2_000}}}
    assert protocol.single_charge("PutItem", put) == Charge("t", 2)
    assert protocol.single_charge("DeleteItem", {"TableName": "t", "Key": {"pk": {"S": "a"}}}) == Charge("t", 1)
    update = {
        "TableName": "t",
        "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET v = :v",
        "ExpressionAttributeValues": {":v": {"S": "x" * 1_500}},
    }
    assert protocol.single_charge("UpdateItem", update) == Charge("t", 2)
    transaction = {"TransactItems": [{"Put": put}, {"ConditionCheck": {"TableName": "u", "Key": {}}}]}
    assert protocol.transaction_charges(transaction) == [Charge("t", 4), Charge("u", 2)]


def test_consumed_capacity_and_unprocessed_merge() -> None:
    entries = protocol.consumed_capacity([Charge("t", 1), Charge("t", 2), Charge("u", 1)], "INDEXES")
    assert entries[0] == {
        "TableName": "t",
        "CapacityUnits": 3.0,
        "WriteCapacityUnits": 3.0,
        "Table": {"CapacityUnits": 3.0, "WriteCapacityUnits": 3.0},
    }
    response: dict[str, Any] = {"UnprocessedItems": {"t": [_put("x")]}}
    protocol.merge_unprocessed(response, {"t": [_put("y")], "u": [_put("z")]})
    assert response == {"UnprocessedItems": {"t": [_put("x"), _put("y")], "u": [_put("z")]}}
    assert protocol.error_type(b'{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}') == (
        "ConditionalCheckFailedException"
    )
