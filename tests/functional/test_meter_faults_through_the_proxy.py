"""The meter's injected faults as a real boto3 client sees them: throttles, outages, a missing table."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from moto.server import ThreadedMotoServer

from nicelist.local.meter import DynamoMeter
from nicelist.local.processes import free_port

TABLE = "nicelist-faults"
NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=1)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield url
    server.stop()


@pytest.fixture
def meter(moto_url: str) -> Iterator[DynamoMeter]:
    with DynamoMeter(upstream=moto_url, port=free_port(), capacity={TABLE: 1_000}) as running:
        yield running


@pytest.fixture
def client(meter: DynamoMeter) -> Any:
    return boto3.client("dynamodb", endpoint_url=meter.url, region_name="us-east-1", config=NO_RETRIES)


def _faults(meter: DynamoMeter, payload: dict[str, Any]) -> Any:
    request = urllib.request.Request(meter.url + "/_meter/faults", data=json.dumps(payload).encode(), method="PUT")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _put(key: str) -> dict[str, Any]:
    return {"TableName": TABLE, "Item": {"pk": {"S": key}}}


def _batch_put(key: str) -> dict[str, Any]:
    return {"PutRequest": {"Item": {"pk": {"S": key}}}}


def test_a_throttle_share_of_one_refuses_every_write_as_dynamodb_does(client: Any, meter: DynamoMeter) -> None:
    _faults(meter, {"throttle_share": 1.0})
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        client.put_item(**_put("t-1"))
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        client.batch_write_item(RequestItems={TABLE: [_batch_put("t-2")]})
    stats = meter.stats()
    assert stats["faults"]["injected_throttles"] == 2
    assert stats["tables"][TABLE]["totals"]["throttled_units"] == 2
    assert stats["tables"][TABLE]["totals"]["units"] == 0


def test_a_partial_share_returns_part_of_a_batch_as_unprocessed(client: Any, meter: DynamoMeter) -> None:
    _faults(meter, {"throttle_share": 0.5})
    requests = [_batch_put(f"p-{i:02d}") for i in range(25)]
    response = client.batch_write_item(RequestItems={TABLE: requests})
    unprocessed = response.get("UnprocessedItems", {}).get(TABLE, [])
    assert 0 < len(unprocessed) < 25
    assert meter.stats()["faults"]["injected_unprocessed"] == len(unprocessed)
    _faults(meter, {"throttle_share": 0})
    assert client.batch_write_item(RequestItems={TABLE: unprocessed})["UnprocessedItems"] == {}


def test_an_outage_answers_503_and_the_control_api_still_lifts_it(client: Any, meter: DynamoMeter) -> None:
    _faults(meter, {"down": True})
    with pytest.raises(ClientError) as down:
        client.put_item(**_put("d-1"))
    assert down.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    with pytest.raises(ClientError):
        client.describe_table(TableName=TABLE)  # every DynamoDB call, not only writes
    answer = _faults(meter, {"down": False})
    assert answer["down"] is False and len(answer["outages"]) == 1
    client.put_item(**_put("d-1"))


def test_a_reset_outage_gives_the_client_a_connection_error(client: Any, meter: DynamoMeter) -> None:
    _faults(meter, {"down": True, "mode": "reset"})
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        client.put_item(**_put("r-1"))
    _faults(meter, {"down": False})
    client.put_item(**_put("r-1"))


def test_a_hanging_outage_runs_into_the_clients_read_timeout_then_ends_by_itself(
    client: Any, meter: DynamoMeter
) -> None:
    _faults(meter, {"down": True, "mode": "hang", "for_seconds": 2})
    started = time.monotonic()
    with pytest.raises((ReadTimeoutError, ConnectionClosedError)):
        client.put_item(**_put("h-1"))
    assert time.monotonic() - started < 1.9  # the client's 1 s read timeout, not the outage's 2 s
    time.sleep(2.1)
    client.put_item(**_put("h-1"))
    assert meter.stats()["faults"]["down"] is False


def test_a_missing_table_answers_resource_not_found_and_keeps_its_items(client: Any, meter: DynamoMeter) -> None:
    client.put_item(**_put("m-1"))
    _faults(meter, {"missing_tables": [TABLE]})
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_item(**_put("m-2"))
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_item(TableName=TABLE, Key={"pk": {"S": "m-1"}})
    _faults(meter, {"clear": True})
    assert client.get_item(TableName=TABLE, Key={"pk": {"S": "m-1"}})["Item"]["pk"] == {"S": "m-1"}


def test_bad_fault_settings_get_a_400(meter: DynamoMeter) -> None:
    with pytest.raises(urllib.error.HTTPError) as bad:
        _faults(meter, {"throttle_share": 2})
    assert bad.value.code == 400


def test_concurrent_requests_during_an_outage_are_all_answered(client: Any, meter: DynamoMeter) -> None:
    _faults(meter, {"down": True, "mode": "reset"})
    errors: list[Exception] = []

    def call() -> None:
        try:
            client.put_item(**_put("c-1"))
        except Exception as error:  # collected and checked below
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(errors) == 8
    _faults(meter, {"clear": True})
