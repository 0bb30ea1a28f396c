"""DynamoDB's documented write limits, as the meter enforces them, with a fake clock.

Burst: 300 s of unused capacity is kept and spent. Partitions: at most 1,000 WCU/s each,
max(ceil(WCU / 1,000), ceil(RCU / 3,000)) of them, placed by the partition key's hash. On-demand:
4,000 WRU/s at once, double the previous peak after 30 minutes, and the table's maximum throughput.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from nicelist.local.meter.core import Meter, Throttle
from nicelist.local.meter.protocol import Charge, partition_key
from nicelist.local.meter.tables import (
    KEY_RANGE,
    MAX_ON_DEMAND,
    TABLE_PROVISIONED,
    TableSpec,
    partition_of,
    provisioned_partitions,
)
from tests.unit.test_meter_limiter import FakeClock


def keys_in(partition: int, partitions: int, count: int) -> list[str]:
    """``count`` partition-key values (as charges carry them) that hash to ``partition``."""
    values = (partition_key({"pk": {"S": f"child-{n}"}}, "pk") for n in itertools.count())
    found = (key for key in values if key is not None and partition_of(key, partitions) == partition)
    return list(itertools.islice(found, count))


def fill(meter: Meter, table: str, key: str | None, units: int, step: int = 100) -> int:
    """Single writes of ``step`` units on ``key`` until one is refused or ``units`` went; units admitted."""
    admitted = 0
    while admitted < units and not meter.admit_all([Charge(table, step, key)]).refused:
        admitted += step
    return admitted


def spread(meter: Meter, table: str, partitions: int, per_partition: int) -> bool:
    """``per_partition`` units on each partition, 100 units a write: True if every write went."""
    keys = [keys_in(p, partitions, 1)[0] for p in range(partitions)]
    charges = [Charge(table, 100, key) for key in keys for _ in range(per_partition // 100)]
    return all(not meter.admit_all([charge]).refused for charge in charges)


def test_burst_credit_is_300_seconds_of_unused_capacity_by_default() -> None:
    clock = FakeClock(1_000.0)
    meter = Meter({"t": 100}, clock=clock)
    assert meter.burst_seconds == 300
    assert fill(meter, "t", None, 10**6) == 100  # a new table has no credit yet
    clock.now += 11  # ten whole idle seconds after a fully used one
    assert meter.stats()["tables"]["t"]["burst_credit"] == 10 * 100
    clock.now += 1_000  # idle far longer than 300 s: the credit is capped
    assert meter.stats()["tables"]["t"]["burst_credit"] == 300 * 100
    assert fill(meter, "t", None, 10**6) == 100 + 30_000  # the second's capacity plus all the credit
    refused = meter.admit_all([Charge("t", 1)])
    assert refused.throttles == (Throttle("t", TABLE_PROVISIONED),)
    for _ in range(3):  # spent: the table throttles at its capacity again
        clock.now += 1
        assert fill(meter, "t", None, 10**6, step=1) == 100


def test_strict_mode_keeps_no_credit() -> None:
    clock = FakeClock(1_000.0)
    meter = Meter({"t": 100}, burst_seconds=0, clock=clock)
    clock.now += 600
    assert fill(meter, "t", None, 10**6) == 100


def test_partition_count_is_the_documented_rule() -> None:
    assert provisioned_partitions(100) == 1
    assert provisioned_partitions(1_000) == 1
    assert provisioned_partitions(2_000) == 2
    assert provisioned_partitions(2_001) == 3
    assert provisioned_partitions(100, read_capacity=6_000) == 2
    assert provisioned_partitions(100, read_capacity=6_001) == 3
    meter = Meter({"t": 2_000}, clock=FakeClock())
    assert meter.partitions("t") == 0  # the partition key is not known yet: no partition limits
    meter.learn(TableSpec("t", hash_key="pk", write_capacity=5, read_capacity=9_000))
    assert meter.partitions("t") == 3  # the meter's 2,000 WCU, the table's own 9,000 RCU


def test_a_hot_key_is_throttled_while_the_table_is_not() -> None:
    meter = Meter({"t": 2_000}, clock=FakeClock(1_000.5))
    meter.learn(TableSpec("t", hash_key="pk"))
    assert meter.partitions("t") == 2
    hot, other = keys_in(0, 2, 1)[0], keys_in(1, 2, 1)[0]
    assert fill(meter, "t", hot, 10**6) == 1_000  # 1,000 WCU/s on one partition
    refused = meter.admit_all([Charge("t", 1, hot)])
    assert refused.throttles == (Throttle("t", KEY_RANGE),)
    meter.settle(refused)
    assert fill(meter, "t", other, 10**6) == 1_000  # the table (2,000) still had room
    assert meter.stats()["tables"]["t"]["throttle_reasons"] == {KEY_RANGE: 1}


def test_burst_credit_does_not_lift_a_partition_past_1000_wcu() -> None:
    clock = FakeClock(1_000.0)
    meter = Meter({"t": 500}, clock=clock)
    meter.learn(TableSpec("t", hash_key="pk"))
    clock.now += 400  # 300 s x 500 WCU of credit
    hot = keys_in(0, 1, 1)[0]
    assert fill(meter, "t", hot, 10**6) == 1_000
    assert meter.admit_all([Charge("t", 1, hot)]).throttles == (Throttle("t", KEY_RANGE),)


def test_a_batch_throttled_on_one_key_takes_the_others() -> None:
    meter = Meter({"t": 2_000}, clock=FakeClock(1_000.5))
    meter.learn(TableSpec("t", hash_key="pk"))
    hot, other = keys_in(0, 2, 1)[0], keys_in(1, 2, 1)[0]
    batch = [Charge("t", 400, hot), Charge("t", 400, hot), Charge("t", 400, hot), Charge("t", 400, other)]
    admission = meter.admit_each(batch)
    assert admission.admitted == (True, True, False, True)
    assert admission.throttles == (Throttle("t", KEY_RANGE),)


def test_a_new_on_demand_table_takes_4000_write_units_at_once() -> None:
    meter = Meter(clock=FakeClock(1_000.5))
    meter.learn(TableSpec("od", hash_key="pk", on_demand=True))
    assert meter.capacity("od") is None
    assert meter.partitions("od") == 4
    assert spread(meter, "od", 4, 1_000)
    refused = meter.admit_all([Charge("od", 1, keys_in(0, 4, 1)[0])])
    assert refused.throttles == (Throttle("od", KEY_RANGE),)
    meter.settle(refused)
    table = meter.stats()["tables"]["od"]
    assert (table["mode"], table["instant_capacity"], table["capacity"]) == ("on-demand", 4_000, None)


def test_on_demand_doubles_the_previous_peak_after_30_minutes() -> None:
    clock = FakeClock(1_000.5)
    meter = Meter(clock=clock)
    meter.learn(TableSpec("od", hash_key="pk", on_demand=True))
    assert spread(meter, "od", 4, 1_000)  # a peak of 4,000 WRU in second 1,000
    clock.now = 1_000.5 + 1_799  # within 30 minutes: still double the first previous peak (2,000)
    assert meter.partitions("od") == 4
    assert spread(meter, "od", 4, 1_000)
    assert meter.admit_all([Charge("od", 1, keys_in(1, 4, 1)[0])]).refused
    clock.now = 1_000.5 + 1_800  # the 4,000 peak is 30 minutes old: 8,000 WRU/s
    assert meter.partitions("od") == 8
    assert spread(meter, "od", 8, 1_000)
    assert meter.admit_all([Charge("od", 1, keys_in(1, 8, 1)[0])]).refused


def test_the_maximum_throughput_of_an_on_demand_table_throttles() -> None:
    meter = Meter(clock=FakeClock(1_000.5))
    meter.learn(TableSpec("od", hash_key="pk", on_demand=True, max_write_units=500))
    assert fill(meter, "od", None, 10**6, step=10) == 500
    assert meter.admit_all([Charge("od", 1)]).throttles == (Throttle("od", MAX_ON_DEMAND),)


def test_a_table_switched_to_on_demand_starts_from_half_its_provisioned_peak() -> None:
    meter = Meter(clock=FakeClock(1_000.5))
    meter.learn(TableSpec("t", hash_key="pk", write_capacity=10_000))
    assert meter.capacity("t") == 10_000
    meter.learn(TableSpec("t", hash_key="pk", on_demand=True))
    assert meter.partitions("t") == 10  # previous peak 5,000: 10,000 WRU/s at once
    assert spread(meter, "t", 10, 1_000)
    assert meter.admit_all([Charge("t", 1)]).refused


def test_the_meters_own_capacity_wins_over_the_tables() -> None:
    meter = Meter({"t": 7}, default_capacity=3, clock=FakeClock())
    meter.learn(TableSpec("t", hash_key="pk", on_demand=True))
    meter.learn(TableSpec("u", hash_key="pk", write_capacity=5))
    assert (meter.capacity("t"), meter.capacity("u"), meter.capacity("v")) == (7, 5, 3)


names = st.sampled_from(
    ["AttributeName", "KeyType", "BillingMode", "WriteCapacityUnits", "ReadCapacityUnits", "MaxWriteRequestUnits"]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["HASH", "PAY_PER_REQUEST", "pk", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)
table_keys = st.sampled_from(
    ["TableName", "KeySchema", "BillingModeSummary", "ProvisionedThroughput", "OnDemandThroughput", "TableArn"]
)


@given(
    description=st.dictionaries(table_keys, json_values, max_size=6),
    request=st.dictionaries(st.sampled_from(["BillingMode", "OnDemandThroughput"]), json_values, max_size=2),
)
def test_any_table_description_gives_a_spec_or_an_error_the_proxy_expects(
    description: dict[str, Any], request: dict[str, Any]
) -> None:
    """What the upstream answers (or a client asks) is not trusted: the proxy catches exactly these."""
    try:
        spec = TableSpec.from_description(description).with_request(request, None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return
    assert spec.max_write_units is None or spec.max_write_units > 0
    assert spec.write_capacity is None or spec.write_capacity >= 0
    Meter(clock=FakeClock()).learn(spec)  # whatever was learned, the meter takes it


@given(item=st.dictionaries(st.sampled_from(["pk", "sk"]), json_values, max_size=4), partitions=st.integers(1, 64))
def test_any_partition_key_lands_on_a_partition(item: dict[str, Any], partitions: int) -> None:
    key = partition_key(item, "pk")
    assert key is None or 0 <= partition_of(key, partitions) < partitions
