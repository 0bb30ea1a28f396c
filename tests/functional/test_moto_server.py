"""The embedded AWS's one change to moto (``nicelist.local.moto_server``): a Query reads its partition.

The answer must be moto's own, item for item and page for page, on any table: generated tables (hash
and range keys of strings and numbers, a hash-only table, empty partitions) and generated queries (key
conditions on the sort key, filters, Limit and ExclusiveStartKey paging, both directions, an index).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models.table import Table

from nicelist.local import moto_server

HASHES = st.sampled_from(["a", "b", "#writers", "child-1", "ü"])
RANGES = st.one_of(st.text(min_size=1, max_size=6), st.sampled_from(["LOCATION", "STATUS", "TRACK#1", "TRACK#2"]))
ITEMS = st.lists(
    st.tuples(HASHES, RANGES, st.integers(-5, 5), st.sampled_from(["x", "y"])), max_size=40, unique_by=lambda t: t[:2]
)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.create_table(
            TableName="h",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _pages(client: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    while True:
        page = client.query(**request)
        pages.append({k: page.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
        if "LastEvaluatedKey" not in page or len(pages) > 50:
            return pages
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def _both(client: Any, request: dict[str, Any]) -> tuple[Any, Any]:
    moto_server.uninstall()
    theirs = _pages(client, request)
    with moto_server.partition_queries():
        ours = _pages(client, request)
    return theirs, ours


queries = st.fixed_dictionaries(
    {
        "pk": HASHES,
        "forward": st.booleans(),
        "limit": st.one_of(st.none(), st.integers(1, 5)),
        "condition": st.sampled_from([None, "begins_with", "between", ">"]),
        "bound": RANGES,
        "filter": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=ITEMS, query=queries)
def test_a_query_answers_as_moto_does(dynamodb: Any, items: list[tuple[str, str, int, str]], query: Any) -> None:
    for existing in dynamodb.scan(TableName="t")["Items"]:
        dynamodb.delete_item(TableName="t", Key={"pk": existing["pk"], "sk": existing["sk"]})
    for pk, sk, n, g in items:
        dynamodb.put_item(TableName="t", Item={"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": str(n)}, "g": {"S": g}})
    condition, values = "pk = :p", {":p": {"S": query["pk"]}}
    if query["condition"] == "begins_with":
        condition += " AND begins_with(sk, :b)"
        values[":b"] = {"S": query["bound"][:1]}
    elif query["condition"] == "between":
        condition += " AND sk BETWEEN :b AND :c"
        values |= {":b": {"S": query["bound"]}, ":c": {"S": query["bound"] + "~"}}
    elif query["condition"] == ">":
        condition += " AND sk > :b"
        values[":b"] = {"S": query["bound"]}
    request: dict[str, Any] = {
        "TableName": "t",
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": query["forward"],
        "ConsistentRead": True,
    }
    if query["limit"] is not None:
        request["Limit"] = query["limit"]
    if query["filter"]:
        request["FilterExpression"] = "n > :z"
        values[":z"] = {"N": "0"}
    theirs, ours = _both(dynamodb, request)
    assert ours == theirs
    expected = sorted(
        (sk for pk, sk, n, _ in items if pk == query["pk"]), reverse=not query["forward"], key=lambda s: s.encode()
    )
    if query["condition"] is None and not query["filter"]:  # the partition, whole, in key order
        assert [item["sk"]["S"] for page in ours for item in page["Items"]] == expected


def test_index_and_hash_only_queries_are_moto_s_own(dynamodb: Any) -> None:
    for i in range(5):
        dynamodb.put_item(TableName="h", Item={"pk": {"N": str(i)}, "v": {"S": str(i)}})
        dynamodb.put_item(TableName="t", Item={"pk": {"S": f"p{i}"}, "sk": {"S": "s"}, "g": {"S": "x"}})
    hash_only = {"TableName": "h", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"N": "3"}}}
    theirs, ours = _both(dynamodb, hash_only)
    assert ours == theirs and [item["v"]["S"] for item in ours[0]["Items"]] == ["3"]
    missing = {**hash_only, "ExpressionAttributeValues": {":p": {"N": "9"}}}
    assert _both(dynamodb, missing)[1][0]["Items"] == []
    index = {
        "TableName": "t",
        "IndexName": "by-g",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "x"}},
    }
    theirs, ours = _both(dynamodb, index)
    assert ours == theirs and ours[0]["Count"] == 5


def test_a_query_reads_only_its_partition(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the change: the table's other items are never listed for a Query."""
    for i in range(30):
        dynamodb.put_item(TableName="t", Item={"pk": {"S": f"p{i % 3}"}, "sk": {"S": str(i)}})
    listed: list[int] = []

    def counting(inner: Any) -> Any:
        def all_items(self: Table) -> Any:
            found = inner(self)
            listed.append(len(found))
            return found

        return all_items

    request = {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p1"}}}
    with moto_server.partition_queries():
        monkeypatch.setattr(Table, "all_items", counting(Table.all_items))
        assert dynamodb.query(**request)["Count"] == 10
        monkeypatch.undo()
    assert listed == [10]
    # AND the next call on the same thread sees the whole table again (the partition is the query's only)
    with moto_server.partition_queries():
        dynamodb.query(**request)
        assert dynamodb.scan(TableName="t")["Count"] == 30
    listed.clear()
    monkeypatch.setattr(Table, "all_items", counting(Table.all_items))
    assert dynamodb.query(**request)["Count"] == 10
    assert listed == [30]  # moto's own lists the whole table
