"""A meter in front of moto server's DynamoDB: records the write units each table sees per second
and enforces a provisioned write capacity, so throttling paths run for real on one machine.

Run it as its own process (``python -m nicelist.local.meter --help``) so the GIL does not couple
it to its clients, or in-process with :class:`DynamoMeter` (tests).
"""

from __future__ import annotations

from nicelist.local.meter.core import Meter
from nicelist.local.meter.ledger import SecondCounts
from nicelist.local.meter.limiter import CapacityLimiter
from nicelist.local.meter.protocol import Charge
from nicelist.local.meter.server import DynamoMeter
from nicelist.local.meter.size import item_size, write_units

__all__ = ["CapacityLimiter", "Charge", "DynamoMeter", "Meter", "SecondCounts", "item_size", "write_units"]
