"""Whatever a client sends (and whatever the upstream answers about tables), the proxy answers: it
forwards what it cannot read, never raises, and the meter keeps working afterwards."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nicelist.local.meter import protocol
from nicelist.local.meter.core import Meter
from nicelist.local.meter.proxy import MeterProxy, Reply, Upstream
from nicelist.local.meter.tables import TableSpec
from tests.unit.test_meter_limiter import FakeClock

FIELDS = [
    "TableName", "Item", "Key", "RequestItems", "TransactItems", "PutRequest", "DeleteRequest", "Put",
    "BillingMode", "OnDemandThroughput", "MaxWriteRequestUnits", "KeySchema", "AttributeName", "KeyType",
    "ProvisionedThroughput", "WriteCapacityUnits", "ExpressionAttributeValues", "ReturnConsumedCapacity",
    "t", "pk", "S",
]  # fmt: skip
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 5_000)
    | st.sampled_from(["t", "pk", "HASH", "PAY_PER_REQUEST", "TOTAL"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3),
    max_leaves=10,
)
OPERATIONS = sorted(protocol.METERED | {"CreateTable", "UpdateTable", "DeleteTable", "DescribeTable"})


class EchoUpstream(Upstream):
    """Answers 200 with the request itself as the table's description: hostile input comes back too."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9")

    def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        try:
            echoed = json.loads(body)
        except ValueError:
            echoed = None
        return Reply(200, [], json.dumps({"Table": echoed, "TableDescription": echoed}).encode())


@settings(max_examples=300)
@given(operation=st.sampled_from(OPERATIONS), request=values, raw=st.booleans())
def test_any_request_gets_an_answer(operation: str, request: Any, raw: bool) -> None:
    meter = Meter({"t": 5}, clock=FakeClock(1_000.5))
    proxy = MeterProxy(meter, EchoUpstream())
    body = b"{not json" if raw else json.dumps(request).encode()
    headers = {"X-Amz-Target": protocol.TARGET_PREFIX + operation}
    reply = proxy.handle("POST", "/", headers, body)
    assert reply.status in (200, 400)
    meter.learn(TableSpec("t", hash_key="pk"))
    assert isinstance(meter.stats()["tables"], dict)
