"""A meter in front of moto server's DynamoDB: records the write units each table sees per second
and enforces a provisioned write capacity, so throttling paths run for real on one machine.

Run it as its own process (``python -m nicelist.local.meter --help``) so the GIL does not couple
it to its clients, or in-process with :class:`DynamoMeter` (tests). Clients reach it through
``AWS_ENDPOINT_URL_DYNAMODB``; every other service keeps ``AWS_ENDPOINT_URL``.

Emulated: write units per item as DynamoDB sizes items (``size``); failed conditional writes
are charged; transactions cost double; a per-second provisioned write capacity per table with
an optional burst credit (``limiter``); ProvisionedThroughputExceededException (HTTP 400) for
PutItem / UpdateItem / DeleteItem / TransactWriteItems over capacity; partial BatchWriteItem
acceptance with the rest in UnprocessedItems; real ConsumedCapacity when asked for.

Not emulated: read capacity and read throttling; on-demand tables (a table without a capacity
is unlimited); adaptive capacity, partitions and their 1,000 WCU/s limits, hot keys; DynamoDB's
300-second burst (``burst_seconds`` defaults to 0); GSI write capacity and GSI back-pressure;
the larger-of-old-and-new item size (units come from the request); capacity taken from
CreateTable / UpdateTable (it is the meter's own setting); chunked request bodies.
"""

from __future__ import annotations

from nicelist.local.meter.core import Admission, Meter
from nicelist.local.meter.ledger import SecondCounts
from nicelist.local.meter.limiter import CapacityLimiter
from nicelist.local.meter.protocol import Charge
from nicelist.local.meter.server import DynamoMeter
from nicelist.local.meter.size import item_size, write_units

__all__ = [
    "Admission",
    "CapacityLimiter",
    "Charge",
    "DynamoMeter",
    "Meter",
    "SecondCounts",
    "item_size",
    "write_units",
]
