"""The DynamoDB JSON protocol as the meter needs it: which writes a request makes, and the answers it forges.

Write units are computed from the request alone (the meter never reads the table): PutItem
counts the new item, UpdateItem the key plus the values it sets, DeleteItem and
ConditionCheck the key, transactional writes twice that. DynamoDB charges the larger of the
old and new item; for the small, same-shaped items nicelist writes the two agree. Each charge
carries its partition-key value when the table's partition key is known (``HashKeys``), so the
meter can place it on a partition.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from nicelist.local.meter.size import Item, item_size, units_for_size, value_size, write_units

TARGET_PREFIX = "DynamoDB_20120810."
SINGLE_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
METERED = SINGLE_WRITES | {"BatchWriteItem", "TransactWriteItems"}
TRANSACTION_FACTOR = 2
"""Transactional writes consume two units per 1 KB."""

THROTTLE_TYPE = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
THROTTLE_MESSAGE = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)
HOT_MESSAGE = "Throughput exceeds the current capacity of your table or index."
"""Said for partition (key range) and on-demand throttles, which no UpdateTable of capacity fixes."""
CHARGED_ERRORS = ("ConditionalCheckFailedException", "TransactionCanceledException")
"""Failed writes DynamoDB still charges for."""
NOT_FOUND_TYPE = "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
UNAVAILABLE_TYPE = "com.amazonaws.dynamodb.v20120810#ServiceUnavailableException"


@dataclass(frozen=True, slots=True)
class Charge:
    """Units one request (or one part of a BatchWriteItem) asks of one table."""

    table: str
    units: int
    key: str | None = None  # the partition-key value (canonical JSON); None: not known


HashKeys = Callable[[str], str | None]
"""A table's partition-key attribute name, if known."""


def _no_keys(table: str) -> str | None:
    return None


def partition_key(item: Mapping[str, Any], name: str | None) -> str | None:
    """The partition-key value of an item or key as canonical JSON, or None."""
    value = item.get(name) if name is not None else None
    return json.dumps(value, sort_keys=True, separators=(",", ":")) if value is not None else None


# Functional form: "__type" in a class body would be name-mangled.
ErrorBody = TypedDict("ErrorBody", {"__type": str, "message": str})


def operation(target: str | None) -> str | None:
    """The operation named by an ``X-Amz-Target`` header, or None if it is not DynamoDB's."""
    if not target or not target.startswith(TARGET_PREFIX):
        return None
    return target.removeprefix(TARGET_PREFIX)


def _update_size(request: Mapping[str, Any]) -> int:
    size = item_size(request.get("Key", {}))
    size += sum(value_size(v) for v in request.get("ExpressionAttributeValues", {}).values())
    for name, update in request.get("AttributeUpdates", {}).items():
        size += len(name.encode()) + (value_size(update["Value"]) if "Value" in update else 0)
    return size


def single_charge(op: str, request: Mapping[str, Any], hash_keys: HashKeys = _no_keys) -> Charge:
    """Units of one PutItem, UpdateItem or DeleteItem (also the parts of a transaction)."""
    table = str(request["TableName"])
    if op == "PutItem":
        return Charge(table, write_units(request["Item"]), partition_key(request["Item"], hash_keys(table)))
    key = partition_key(request.get("Key", {}), hash_keys(table))
    if op == "UpdateItem":
        return Charge(table, units_for_size(_update_size(request)), key)
    return Charge(table, write_units(request.get("Key", {})), key)


_TRANSACT_OPS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "DeleteItem",
}


def transaction_charges(request: Mapping[str, Any], hash_keys: HashKeys = _no_keys) -> list[Charge]:
    """Units of each action of a TransactWriteItems, doubled as DynamoDB bills them."""
    charges = []
    for action in request.get("TransactItems", []):
        [(kind, body)] = action.items()
        charge = single_charge(_TRANSACT_OPS[kind], body, hash_keys)
        charges.append(Charge(charge.table, charge.units * TRANSACTION_FACTOR, charge.key))
    return charges


def batch_request_charge(table: str, request: Mapping[str, Any], hash_keys: HashKeys = _no_keys) -> Charge:
    """Units (and partition key) of one PutRequest / DeleteRequest of a BatchWriteItem."""
    if "PutRequest" in request:
        item: Item = request["PutRequest"]["Item"]
    else:
        item = request.get("DeleteRequest", {}).get("Key", {})
    return Charge(table, write_units(item), partition_key(item, hash_keys(table)))


BatchEntry = tuple[str, Any, Charge]
"""(table, PutRequest/DeleteRequest, its charge), in request order."""


def batch_entries(request_items: Mapping[str, list[Any]], hash_keys: HashKeys = _no_keys) -> list[BatchEntry]:
    """The writes of a BatchWriteItem in request order, each with its units."""
    return [
        (table, request, batch_request_charge(table, request, hash_keys))
        for table, requests in request_items.items()
        for request in requests
    ]


def split_batch(
    entries: list[BatchEntry], admitted: tuple[bool, ...]
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """RequestItems for the admitted writes, and UnprocessedItems for the others."""
    accepted: dict[str, list[Any]] = {}
    unprocessed: dict[str, list[Any]] = {}
    for (table, request, _), ok in zip(entries, admitted, strict=True):
        (accepted if ok else unprocessed).setdefault(table, []).append(request)
    return accepted, unprocessed


def merge_unprocessed(response: dict[str, Any], unprocessed: Mapping[str, list[Any]]) -> None:
    """Add the meter's refused writes to whatever UnprocessedItems the upstream returned."""
    merged: dict[str, list[Any]] = response.setdefault("UnprocessedItems", {})
    for table, requests in unprocessed.items():
        merged.setdefault(table, []).extend(requests)


def consumed_capacity(charges: list[Charge], mode: str) -> list[dict[str, Any]]:
    """ConsumedCapacity entries, one per table, for ``ReturnConsumedCapacity`` TOTAL or INDEXES."""
    per_table: dict[str, int] = {}
    for charge in charges:
        per_table[charge.table] = per_table.get(charge.table, 0) + charge.units
    entries = []
    for table, units in per_table.items():
        entry: dict[str, Any] = {"TableName": table, "CapacityUnits": float(units)}
        entry["WriteCapacityUnits"] = float(units)
        if mode == "INDEXES":
            entry["Table"] = {"CapacityUnits": float(units), "WriteCapacityUnits": float(units)}
        entries.append(entry)
    return entries


def error_type(body: bytes) -> str:
    """The short error code of a DynamoDB error body (``...#Code`` -> ``Code``), or ''."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    kind = parsed.get("__type", "") if isinstance(parsed, dict) else ""
    return str(kind).rpartition("#")[2]


def throttle_body(reasons: Sequence[tuple[str, str]] = ()) -> bytes:
    """ProvisionedThroughputExceededException with its ``ThrottlingReasons``: (reason, resource ARN) pairs."""
    provisioned = all(reason.endswith("ProvisionedThroughputExceeded") for reason, _ in reasons)
    listed = [{"reason": reason, "resource": resource} for reason, resource in reasons]
    return error_body(THROTTLE_TYPE, THROTTLE_MESSAGE if provisioned else HOT_MESSAGE, ThrottlingReasons=listed)


def error_body(kind: str, message: str, **extra: Any) -> bytes:
    body: ErrorBody = {"__type": kind, "message": message}
    return json.dumps({**body, **extra}).encode()


def tables_named(request: Any) -> list[str]:
    """Every table a DynamoDB request names (``TableName``, ``RequestItems``, ``TransactItems``)."""
    if not isinstance(request, dict):
        return []
    names = [request["TableName"]] if isinstance(request.get("TableName"), str) else []
    items = request.get("RequestItems")
    if isinstance(items, dict):
        names += [name for name in items if isinstance(name, str)]
    for action in request.get("TransactItems") or []:
        for body in action.values() if isinstance(action, dict) else []:
            if isinstance(body, dict) and isinstance(body.get("TableName"), str):
                names.append(body["TableName"])
    return names


def crc32(body: bytes) -> str:
    """The ``x-amz-crc32`` botocore checks on every DynamoDB response (a mismatch is retried)."""
    return str(zlib.crc32(body) & 0xFFFFFFFF)
