"""A meter in front of moto server's DynamoDB: records the write units each table sees per second
and throttles writes as DynamoDB does, so throttling paths run for real on one machine.

Run it as its own process (``python -m nicelist.local.meter --help``) so the GIL does not couple
it to its clients, or in-process with :class:`DynamoMeter` (tests). Clients reach it through
``AWS_ENDPOINT_URL_DYNAMODB``; every other service keeps ``AWS_ENDPOINT_URL``.

Emulated (the documented numbers are in ``tables``): write units per item as DynamoDB sizes items
(``size``); failed conditional writes are charged; transactions cost double; a provisioned table's
write capacity per second with DynamoDB's 300 s of burst credit (``--burst-seconds 0``: strict, no
second over capacity); partitions of at most 1,000 WCU/s placed by a hash of the partition key, so
a hot key is throttled while the table is not; on-demand tables (4,000 WRU/s at once, double the
previous peak within 30 minutes, the table's ``OnDemandThroughput.MaxWriteRequestUnits``);
ProvisionedThroughputExceededException (HTTP 400) with DynamoDB's ``ThrottlingReasons`` for
PutItem / UpdateItem / DeleteItem / TransactWriteItems refused; partial BatchWriteItem acceptance
with the rest in UnprocessedItems; real ConsumedCapacity when asked for. A table's capacity is the
meter's own setting for it if any, else what the table states (learned from the CreateTable /
UpdateTable it proxies, or one DescribeTable upstream), else the default.

Not emulated: read capacity and read throttling (RCU only count toward the partitions); adaptive
capacity's splitting of hot partitions and partitions split by size; the account's per-table
quotas (``AccountLimitExceeded``); GSI write capacity and GSI back-pressure; the
larger-of-old-and-new item size (units come from the request); warm throughput settings; chunked
request bodies.
"""

from __future__ import annotations

from nicelist.local.meter.core import Admission, Meter, Throttle
from nicelist.local.meter.ledger import SecondCounts
from nicelist.local.meter.limiter import CapacityLimiter
from nicelist.local.meter.protocol import Charge
from nicelist.local.meter.server import DynamoMeter
from nicelist.local.meter.size import item_size, write_units
from nicelist.local.meter.tables import TableSpec

__all__ = [
    "Admission",
    "CapacityLimiter",
    "Charge",
    "DynamoMeter",
    "Meter",
    "SecondCounts",
    "TableSpec",
    "Throttle",
    "item_size",
    "write_units",
]
