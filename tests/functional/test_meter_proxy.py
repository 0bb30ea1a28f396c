"""The meter between real boto3 clients and a real moto server: units, throttling, partial batches, control API."""

from __future__ import annotations

import dataclasses
import itertools
import json
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from nicelist.local.meter import DynamoMeter
from nicelist.local.meter.__main__ import parser
from nicelist.local.meter.protocol import partition_key
from nicelist.local.meter.tables import partition_of
from nicelist.options import local_session
from nicelist.provision import Clients, ProvisionOptions, provision_stage
from tests.unit.test_meter_limiter import FakeClock
from writer.autorate import TableThroughput

TABLE = "nicelist-meter"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    direct = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
    direct.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    yield url
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(2_000_000_000.25)


@pytest.fixture
def meter(moto_url: str, clock: FakeClock) -> Iterator[DynamoMeter]:
    with DynamoMeter(upstream=moto_url, port=_free_port(), capacity={TABLE: 10}, clock=clock) as running:
        yield running


@pytest.fixture
def client(meter: DynamoMeter, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", meter.url)
    return boto3.client("dynamodb", region_name="us-east-1", config=NO_RETRIES)


def _put(key: str, **extra: Any) -> dict[str, Any]:
    return {"TableName": TABLE, "Item": {"pk": {"S": key}, **extra}}


def _batch(*keys: str) -> dict[str, Any]:
    return {TABLE: [{"PutRequest": {"Item": {"pk": {"S": key}}}} for key in keys]}


def _http(meter: DynamoMeter, method: str, path: str, payload: Any = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(meter.url + path, data=data, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def test_boto3_sends_dynamodb_to_the_meter_and_other_services_to_moto(
    client: Any, meter: DynamoMeter, moto_url: str
) -> None:
    assert client.meta.endpoint_url == meter.url
    assert boto3.client("sqs", region_name="us-east-1").meta.endpoint_url == moto_url


def test_write_units_are_recorded_per_table_per_second(client: Any, meter: DynamoMeter) -> None:
    # GIVEN a small item, a 1.5 KB item and a conditional put that fails
    client.put_item(**_put("u-1"))
    client.put_item(**_put("u-2", blob={"S": "x" * 1_500}))
    with pytest.raises(ClientError) as failed:
        client.put_item(**_put("u-1"), ConditionExpression="attribute_not_exists(pk)")
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    # WHEN the stats are read over HTTP
    stats = _http(meter, "GET", "/_meter/stats?seconds=5")
    # THEN 1 + 2 + 1 units reached the table in this second, the failed condition included
    table = stats["tables"][TABLE]
    assert table["totals"] == {"units": 4, "throttled_units": 0, "requests": 3, "throttle_events": 0}
    assert table["series"][-1]["units"] == 4
    assert len(table["series"]) == 5
    assert table["peak_units_per_second"] == 4
    assert meter.stats()["tables"][TABLE]["totals"]["units"] == 4


@pytest.mark.parametrize("operation", ["put_item", "update_item", "delete_item"])
def test_over_capacity_single_writes_get_a_real_throughput_error(
    client: Any, meter: DynamoMeter, operation: str
) -> None:
    meter.set_capacity(TABLE, 1)
    client.put_item(**_put("t-1"))
    calls = {
        "put_item": lambda: client.put_item(**_put("t-2")),
        "update_item": lambda: client.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "t-1"}},
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"N": "1"}},
        ),
        "delete_item": lambda: client.delete_item(TableName=TABLE, Key={"pk": {"S": "t-1"}}),
    }
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException) as throttled:
        calls[operation]()
    error = throttled.value.response
    assert error["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert "configured provisioned throughput" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    [reason] = error["ThrottlingReasons"]
    assert reason["reason"] == "TableWriteProvisionedThroughputExceeded"
    assert reason["resource"] == f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}"
    totals = meter.stats()["tables"][TABLE]["totals"]
    assert (totals["units"], totals["throttled_units"], totals["throttle_events"]) == (1, 1, 1)


def test_batch_write_over_capacity_returns_the_rest_as_unprocessed(
    client: Any, meter: DynamoMeter, moto_url: str
) -> None:
    keys = [f"b-{i:02d}" for i in range(25)]
    response = client.batch_write_item(RequestItems=_batch(*keys), ReturnConsumedCapacity="TOTAL")
    unprocessed = response["UnprocessedItems"][TABLE]
    assert [r["PutRequest"]["Item"]["pk"]["S"] for r in unprocessed] == keys[10:]
    assert response["ConsumedCapacity"] == [{"TableName": TABLE, "CapacityUnits": 10.0, "WriteCapacityUnits": 10.0}]
    direct = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1")
    stored = {direct.get_item(TableName=TABLE, Key={"pk": {"S": k}}).get("Item") is not None for k in keys[10:]}
    assert stored == {False}  # only the admitted ones reached moto
    assert direct.get_item(TableName=TABLE, Key={"pk": {"S": keys[9]}})["Item"]
    # and once the second is full, a batch gets the throughput error itself
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        client.batch_write_item(RequestItems=_batch("b-late"))
    table = meter.stats()["tables"][TABLE]["totals"]
    assert table == {"units": 10, "throttled_units": 16, "requests": 2, "throttle_events": 2}


def test_capacity_changes_at_runtime_through_the_control_api(client: Any, meter: DynamoMeter, clock: FakeClock) -> None:
    answer = _http(meter, "PUT", "/_meter/capacity", {"table": TABLE, "wcu": 2})
    assert answer["capacity"] == {TABLE: 2}
    response = client.batch_write_item(RequestItems=_batch("c-1", "c-2", "c-3"))
    assert len(response["UnprocessedItems"][TABLE]) == 1
    clock.now += 1
    _http(meter, "PUT", "/_meter/capacity", {"table": TABLE, "wcu": None})
    assert client.batch_write_item(RequestItems=_batch(*(f"c-{i}" for i in range(25))))["UnprocessedItems"] == {}
    stats = _http(meter, "GET", "/_meter/stats?seconds=2")
    assert stats["tables"][TABLE]["capacity"] is None
    assert [s["units"] for s in stats["tables"][TABLE]["series"]] == [2, 25]
    assert stats["tables"][TABLE]["peak_units_per_second"] == 25


def test_consumed_capacity_is_the_computed_units(client: Any) -> None:
    response = client.put_item(**_put("cc-1", blob={"S": "x" * 3_000}), ReturnConsumedCapacity="INDEXES")
    assert response["ConsumedCapacity"]["CapacityUnits"] == 3.0
    assert response["ConsumedCapacity"]["Table"]["CapacityUnits"] == 3.0


def test_transactions_cost_double_and_other_calls_pass_through(client: Any, meter: DynamoMeter) -> None:
    client.transact_write_items(TransactItems=[{"Put": _put("tx-1")}, {"Put": _put("tx-2")}])
    assert meter.stats()["tables"][TABLE]["totals"]["units"] == 4
    assert client.get_item(TableName=TABLE, Key={"pk": {"S": "tx-1"}})["Item"]["pk"] == {"S": "tx-1"}
    assert client.describe_table(TableName=TABLE)["Table"]["TableName"] == TABLE
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_item(TableName="no-such-table", Item={"pk": {"S": "x"}})
    assert meter.stats()["tables"]["no-such-table"]["totals"]["units"] == 0  # not charged


def test_the_control_api_refuses_bad_requests(meter: DynamoMeter) -> None:
    with pytest.raises(urllib.error.HTTPError) as bad:
        _http(meter, "PUT", "/_meter/capacity", {"table": TABLE, "wcu": -3})
    assert bad.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as missing:
        _http(meter, "GET", "/_meter/nothing")
    assert missing.value.code == 404
    assert _http(meter, "POST", "/_meter/reset", {}) == {"ok": True}


def test_the_command_line_reads_capacities() -> None:
    args = parser().parse_args(["--port", "0", "--capacity", "t=5", "--capacity", "a=b=7", "--burst-seconds", "1"])
    assert args.capacity == [("t", 5), ("a=b", 7)]
    assert (args.port, args.burst_seconds, args.no_enforce) == (0, 1.0, False)
    with pytest.raises(SystemExit):
        parser().parse_args(["--capacity", "t"])


def test_rewritten_responses_keep_botocores_crc32_check_happy(meter: DynamoMeter) -> None:
    # a client with botocore's default retries retries a body whose x-amz-crc32 does not match
    retrying = boto3.client("dynamodb", endpoint_url=meter.url, region_name="us-east-1")
    response = retrying.put_item(**_put("crc-1"), ReturnConsumedCapacity="TOTAL")
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert meter.stats()["tables"][TABLE]["totals"]["requests"] == 1


def test_an_unreachable_upstream_is_a_gateway_error_and_costs_nothing(clock: FakeClock) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"
    with DynamoMeter(upstream=closed, capacity={TABLE: 1}, clock=clock) as meter:
        client = boto3.client("dynamodb", endpoint_url=meter.url, region_name="us-east-1", config=NO_RETRIES)
        for _ in range(2):
            with pytest.raises(ClientError) as failed:
                client.put_item(**_put("gone"))
            assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
        assert meter.stats()["tables"][TABLE]["totals"]["units"] == 0


def _other_partitions(count: int) -> list[str]:
    """A partition-key value on each of ``count`` partitions, as the meter places them."""
    found: dict[int, str] = {}
    for n in itertools.count():
        name = f"child-{n}"
        key = partition_key({"pk": {"S": name}}, "pk")
        assert key is not None
        found.setdefault(partition_of(key, count), name)
        if len(found) == count:
            return [found[p] for p in range(count)]
    raise AssertionError("unreachable")


def _create(client: Any, table: str, **capacity: Any) -> None:
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        **capacity,
    )


def _throttle_reasons(call: Any) -> list[dict[str, str]]:
    with pytest.raises(ClientError) as throttled:
        call()
    error = throttled.value.response
    assert error["Error"]["Code"] == "ProvisionedThroughputExceededException"
    reasons: list[dict[str, str]] = error["ThrottlingReasons"]
    return reasons


def test_a_table_made_elsewhere_is_throttled_at_its_own_capacity(moto_url: str, clock: FakeClock) -> None:
    """No capacity given to the meter: it describes the table (5 WCU in moto) and throttles at that."""
    with DynamoMeter(upstream=moto_url, port=_free_port(), clock=clock) as meter:
        client = boto3.client("dynamodb", endpoint_url=meter.url, region_name="us-east-1", config=NO_RETRIES)
        for n in range(5):
            client.put_item(**_put(f"own-{n}"))
        [reason] = _throttle_reasons(lambda: client.put_item(**_put("own-5")))
        assert reason["reason"] == "TableWriteProvisionedThroughputExceeded"
        table = meter.stats()["tables"][TABLE]
        assert (table["capacity"], table["mode"], table["partitions"]) == (5, "provisioned", 1)


def test_a_hot_key_is_throttled_with_its_reason_while_the_table_is_not(moto_url: str, clock: FakeClock) -> None:
    """A 2,000 WCU table made through the meter has 2 partitions of 1,000 WCU/s each."""
    with DynamoMeter(upstream=moto_url, port=_free_port(), clock=clock) as meter:
        client = boto3.client("dynamodb", endpoint_url=meter.url, region_name="us-east-1", config=NO_RETRIES)
        _create(client, "nicelist-hot", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 2_000})
        hot, cool = _other_partitions(2)
        big = {"blob": {"S": "x" * 300_000}}  # 293 write units

        def put(key: str) -> Any:
            return client.put_item(TableName="nicelist-hot", Item={"pk": {"S": key}, **big})

        for _ in range(3):
            put(hot)
        [reason] = _throttle_reasons(lambda: put(hot))  # 1,172 > 1,000 on the hot partition
        arn = client.describe_table(TableName="nicelist-hot")["Table"]["TableArn"]
        assert reason == {"reason": "TableWriteKeyRangeThroughputExceeded", "resource": arn}
        put(cool)  # the table, at 879 + 293 of 2,000, has room
        table = meter.stats()["tables"]["nicelist-hot"]
        assert (table["partitions"], table["totals"]["units"]) == (2, 4 * 293)
        assert table["throttle_reasons"] == {"TableWriteKeyRangeThroughputExceeded": 1}


def test_an_on_demand_tables_maximum_throughput_throttles(moto_url: str, clock: FakeClock) -> None:
    """moto keeps no OnDemandThroughput: the meter reads it from the CreateTable / UpdateTable it forwards."""
    with DynamoMeter(upstream=moto_url, port=_free_port(), clock=clock) as meter:
        client = boto3.client("dynamodb", endpoint_url=meter.url, region_name="us-east-1", config=NO_RETRIES)
        _create(client, "nicelist-od", BillingMode="PAY_PER_REQUEST", OnDemandThroughput={"MaxWriteRequestUnits": 3})

        def put(key: str) -> Any:
            return client.put_item(TableName="nicelist-od", Item={"pk": {"S": key}})

        for n in range(3):
            put(f"od-{n}")
        [reason] = _throttle_reasons(lambda: put("od-3"))
        assert reason["reason"] == "TableWriteMaxOnDemandThroughputExceeded"
        client.update_table(TableName="nicelist-od", OnDemandThroughput={"MaxWriteRequestUnits": -1})
        for n in range(3, 10):
            put(f"od-{n}")
        table = meter.stats()["tables"]["nicelist-od"]
        assert (table["mode"], table["instant_capacity"], table["max_write_units"]) == ("on-demand", 4_000, None)


def test_provisioning_an_on_demand_stage_through_the_meter_rehearses_it(moto_url: str, clock: FakeClock) -> None:
    """What ``nicelist provision --on-demand`` makes, the meter throttles as a new on-demand table."""
    with DynamoMeter(upstream=moto_url, port=_free_port(), clock=clock) as meter:
        session = local_session("us-east-1")
        clients = Clients.create(session, endpoint_url=moto_url)
        clients = dataclasses.replace(clients, dynamodb=session.client("dynamodb", endpoint_url=meter.url))
        result = provision_stage("meter-od", clients, ProvisionOptions(on_demand=True))
        table = meter.stats()["tables"][result.table_name]
        assert (table["mode"], table["instant_capacity"], table["partitions"]) == ("on-demand", 4_000, 4)


def test_describe_table_states_an_on_demand_tables_warm_throughput_and_maximum(moto_url: str, clock: FakeClock) -> None:
    """The writers' write rate auto reads what an on-demand table serves at once (writer.autorate)."""
    with DynamoMeter(upstream=moto_url, port=_free_port(), clock=clock) as meter:
        client = boto3.client("dynamodb", endpoint_url=meter.url, region_name="us-east-1", config=NO_RETRIES)
        _create(
            client, "nicelist-warm", BillingMode="PAY_PER_REQUEST", OnDemandThroughput={"MaxWriteRequestUnits": 900}
        )
        table = client.describe_table(TableName="nicelist-warm")["Table"]
        assert table["WarmThroughput"]["WriteUnitsPerSecond"] == 4_000  # a new table: double 2,000
        assert table["OnDemandThroughput"]["MaxWriteRequestUnits"] == 900
        assert TableThroughput.from_description(table).ceiling == 900
        provisioned = client.describe_table(TableName=TABLE)["Table"]
        assert provisioned["WarmThroughput"]["WriteUnitsPerSecond"] == 5  # a provisioned table's answer is moto's own
