"""The budget the writers share: W and C from SSM, cached briefly, never lost to a flaky or bad value."""

from __future__ import annotations

import random
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from writer.budget import BudgetParameters, TableCapacity
from writer.pacing import Pacer

RATE, CONCURRENCY = "/nicelist/test/write-rate", "/nicelist/test/writer-concurrency"


@pytest.fixture
def ssm() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def budget(ssm: object) -> BudgetParameters:
    return BudgetParameters(
        ssm,
        rate_parameter=RATE,
        rate_fallback=10.0,
        concurrency_parameter=CONCURRENCY,
        concurrency_fallback=2,
        max_age=0,  # no cache: every read goes to SSM
    )


def pacer(ssm: object) -> Pacer:
    return Pacer(budget(ssm), clock=lambda: 0.0, sleep=lambda _: None, rng=random.Random(1))


def put(ssm: object, name: str, value: str) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)  # type: ignore[attr-defined]


def test_without_parameters_the_fallbacks_apply(ssm: object) -> None:
    assert pacer(ssm).refresh() == 5.0


def test_the_share_follows_both_parameters_live(ssm: object) -> None:
    # GIVEN a budget of 300 WCU/s shared by 2 writers
    put(ssm, RATE, "300")
    put(ssm, CONCURRENCY, "2")
    shared = pacer(ssm)
    assert shared.refresh() == 150.0
    # WHEN the operator raises the concurrency to 3 (nicelist tune / deploy configure)
    put(ssm, CONCURRENCY, "3")
    # THEN each writer spends a third, and the table still sees 300 in all
    assert shared.refresh() == 100.0


@pytest.mark.parametrize("bad", ["0", "-5", "nan", "fast", "2.5"])
def test_a_bad_concurrency_keeps_the_last_good_one(ssm: object, bad: str) -> None:
    put(ssm, RATE, "300")
    put(ssm, CONCURRENCY, "3")
    shared = pacer(ssm)
    assert shared.refresh() == 100.0
    put(ssm, CONCURRENCY, bad)
    assert shared.refresh() == 100.0


def test_a_bad_rate_keeps_the_last_good_one(ssm: object) -> None:
    put(ssm, RATE, "300")
    shared = budget(ssm)
    assert shared.table_rate() == 300.0
    put(ssm, RATE, "inf")
    assert shared.table_rate() == 300.0


# -- write rate auto: W follows the table's capacity (DescribeTable) -------------------------------

TABLE = "nicelist-test"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def aws() -> Iterator[tuple[object, object]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "child_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "child_id", "AttributeType": "S"}],
            ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 400},
        )
        yield boto3.client("ssm", region_name="us-east-1"), dynamodb


def auto_budget(ssm: object, dynamodb: object, clock: FakeClock, max_age: float = 5) -> BudgetParameters:
    return BudgetParameters(
        ssm,
        rate_parameter=RATE,
        rate_fallback=10.0,
        concurrency_parameter=CONCURRENCY,
        concurrency_fallback=1,
        max_age=0,
        table=TableCapacity(dynamodb, TABLE, max_age, clock=clock),
    )


def set_wcu(dynamodb: object, wcu: int) -> None:
    dynamodb.update_table(  # type: ignore[attr-defined]
        TableName=TABLE, ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": wcu}
    )


def started(aws: tuple[object, object], value: str) -> tuple[BudgetParameters, FakeClock]:
    """The write-rate parameter set to ``value``, and a budget reading it with a fake clock."""
    ssm, dynamodb = aws
    put(ssm, RATE, value)
    clock = FakeClock()
    return auto_budget(ssm, dynamodb, clock), clock


def test_auto_follows_the_table_within_the_cache_time(aws: tuple[object, object]) -> None:
    # GIVEN the write rate auto:0.95 on a 400 WCU table
    dynamodb = aws[1]
    shared, clock = started(aws, "auto:0.95")
    assert shared.table_rate() == 380
    # WHEN auto scaling raises the table to 1000 WCU
    set_wcu(dynamodb, 1000)
    # THEN the writers keep 380 while their reading is fresh, and follow once it is max_age old
    clock.now = 4.9
    assert shared.table_rate() == 380
    clock.now = 5.0
    assert shared.table_rate() == 950
    # AND a scale-in is followed the same way, never above the capacity read
    set_wcu(dynamodb, 200)
    clock.now = 10.0
    assert shared.table_rate() == 190


def test_auto_default_fraction_and_back_to_a_number(aws: tuple[object, object]) -> None:
    ssm, dynamodb = aws
    put(ssm, RATE, "auto")
    shared = auto_budget(ssm, dynamodb, FakeClock())
    assert shared.table_rate() == 0.97 * 400
    put(ssm, RATE, "123")
    assert shared.table_rate() == 123


def test_an_unreadable_table_keeps_the_last_auto_rate(aws: tuple[object, object]) -> None:
    # GIVEN auto mode that has read the table once
    dynamodb = aws[1]
    shared, clock = started(aws, "auto:0.5")
    assert shared.table_rate() == 200
    # WHEN DescribeTable fails (the table is gone, or DynamoDB's control plane is down)
    dynamodb.delete_table(TableName=TABLE)  # type: ignore[attr-defined]
    clock.now = 60
    # THEN the last rate derived stays: neither stopped nor raised
    assert shared.table_rate() == 200


def test_before_the_table_is_read_the_fallback_applies(aws: tuple[object, object]) -> None:
    ssm, dynamodb = aws
    put(ssm, RATE, "auto")
    dynamodb.delete_table(TableName=TABLE)  # type: ignore[attr-defined]
    assert auto_budget(ssm, dynamodb, FakeClock()).table_rate() == 10.0


@pytest.mark.parametrize("bad", ["auto:2", "auto:0", "nan", "auto:"])
def test_a_bad_auto_value_keeps_the_last_good_one(aws: tuple[object, object], bad: str) -> None:
    ssm, dynamodb = aws
    put(ssm, RATE, "auto:0.5")
    shared = auto_budget(ssm, dynamodb, FakeClock())
    assert shared.table_rate() == 200
    put(ssm, RATE, bad)
    assert shared.table_rate() == 200
