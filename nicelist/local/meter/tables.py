"""What the meter knows of a table: its billing mode, capacities, partition key and ARN, and the numbers
DynamoDB documents for them.

The rules, as the Amazon DynamoDB Developer Guide states them:

- Partitions ("Partitions and data distribution", and "Designing partition keys to distribute your
  workload"): a partition serves at most 3,000 read units and 1,000 write units per second, and the
  partition key's hash decides the partition of an item. A provisioned table needs at least
  ``max(ceil(WCU / 1,000), ceil(RCU / 3,000))`` partitions, the count the meter uses (DynamoDB may
  split further, by size or for adaptive capacity; the meter does not). Adaptive capacity lets a hot
  partition use the table's unused throughput, so a partition is refused only past the table's
  capacity or its own 1,000 WCU/s: the throttle reason ``TableWriteKeyRangeThroughputExceeded``.
- Burst capacity ("Burst capacity"): up to 300 seconds of unused read and write capacity is kept
  and spent on bursts.
- On-demand ("On-demand capacity mode", "Initial throughput for on-demand capacity mode" and the
  knowledge-centre article on throttled on-demand tables): a new on-demand table has a previous peak
  of 2,000 write request units and serves double its previous peak at once, so 4,000 WRU/s; a table
  switched from provisioned has for previous peak the larger of that and half the highest WCU it was
  provisioned with; traffic beyond double the previous peak within 30 minutes may be throttled. A
  table's maximum throughput (``OnDemandThroughput.MaxWriteRequestUnits``, "DynamoDB maximum
  throughput for on-demand tables") refuses writes past it with ``...MaxOnDemandThroughputExceeded``.
- Throttling reasons ("Diagnosing throttling"; the ``ThrottlingReason`` shape of the DynamoDB API):
  each throttle carries ``ThrottlingReasons``, a list of ``{"reason": ..., "resource": <ARN>}``, the
  reason being ``<Table|Index><Read|Write><LimitType>``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PARTITION_WCU = 1_000
PARTITION_RCU = 3_000
BURST_SECONDS = 300.0
ON_DEMAND_INITIAL_PEAK_WRU = 2_000  # "previous peak" of a new on-demand table: 4,000 WRU/s at once
ON_DEMAND_PEAK_WINDOW_SECONDS = 1_800  # traffic past double the previous peak within 30 min may throttle

TABLE_PROVISIONED = "TableWriteProvisionedThroughputExceeded"
KEY_RANGE = "TableWriteKeyRangeThroughputExceeded"
MAX_ON_DEMAND = "TableWriteMaxOnDemandThroughputExceeded"

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"  # moto's


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table as CreateTable / UpdateTable / DescribeTable state it (only what metering needs)."""

    name: str
    hash_key: str | None = None  # the partition key's attribute name; None: partitions unknown
    on_demand: bool = False
    write_capacity: int | None = None  # provisioned WCU
    read_capacity: int = 0  # provisioned RCU (counts toward the partitions)
    max_write_units: int | None = None  # on-demand maximum throughput; None: none
    arn: str | None = None

    @classmethod
    def from_description(cls, table: Mapping[str, Any]) -> TableSpec:
        """From a ``TableDescription`` (DescribeTable's ``Table``, CreateTable's ``TableDescription``)."""
        mode = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
        throughput = table.get("ProvisionedThroughput") or {}
        keys = [k.get("AttributeName") for k in table.get("KeySchema") or [] if k.get("KeyType") == "HASH"]
        return cls(
            name=str(table["TableName"]),
            hash_key=str(keys[0]) if keys else None,
            on_demand=mode == "PAY_PER_REQUEST",
            write_capacity=_whole(throughput.get("WriteCapacityUnits")),
            read_capacity=_whole(throughput.get("ReadCapacityUnits")) or 0,
            max_write_units=max_write_units(table.get("OnDemandThroughput")),
            arn=str(table["TableArn"]) if table.get("TableArn") else None,
        )

    def with_request(self, request: Mapping[str, Any], previous: TableSpec | None) -> TableSpec:
        """Settings the request states that the upstream's answer may not (moto keeps no maximum
        throughput); what neither states stays as ``previous`` had it."""
        on_demand = self.on_demand
        if request.get("BillingMode") in ("PAY_PER_REQUEST", "PROVISIONED"):
            on_demand = request["BillingMode"] == "PAY_PER_REQUEST"
        limit = self.max_write_units if previous is None else previous.max_write_units
        if "OnDemandThroughput" in request:
            limit = max_write_units(request["OnDemandThroughput"])
        return TableSpec(
            self.name,
            self.hash_key or (previous.hash_key if previous else None),
            on_demand,
            self.write_capacity,
            self.read_capacity,
            limit,
            self.arn,
        )


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def max_write_units(throughput: Any) -> int | None:
    """``OnDemandThroughput.MaxWriteRequestUnits``; -1 (or nothing) means no maximum."""
    value = _whole((throughput or {}).get("MaxWriteRequestUnits") if isinstance(throughput, Mapping) else None)
    return value if value else None


def provisioned_partitions(write_capacity: int, read_capacity: int = 0) -> int:
    """``max(ceil(WCU / 1,000), ceil(RCU / 3,000))``, at least 1."""
    return max(1, math.ceil(write_capacity / PARTITION_WCU), math.ceil(read_capacity / PARTITION_RCU))


def partition_of(key: str, partitions: int) -> int:
    """The partition of a partition-key value: its hash's place in the key space, split in equal ranges."""
    digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    return (digest * partitions) >> 64


def table_arn(table: str, region: str = DEFAULT_REGION) -> str:
    return f"arn:aws:dynamodb:{region}:{DEFAULT_ACCOUNT}:table/{table}"
