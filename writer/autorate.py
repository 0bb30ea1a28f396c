"""The write-rate parameter's grammar, and ``auto``: a budget W that follows the table's own capacity.

``/nicelist/<stage>/write-rate`` holds either a number (W in WCU/s, what an operator sets with
``nicelist rate`` or ``nicelist tune --write-rate N``) or ``auto`` / ``auto:F`` (``nicelist tune
--write-rate auto[:F]``): the writers then derive W from DynamoDB's DescribeTable, so W follows the
table as DynamoDB auto scaling raises or lowers it, and nobody has to touch anything during a peak.

- A **provisioned** table: ``W = F x ProvisionedThroughput.WriteCapacityUnits``, below the capacity
  by the same headroom the stack leaves (``DEFAULT_AUTO_FRACTION``, docs/design.md "Pacing").
- An **on-demand** table: ``W = F x min(MaxWriteRequestUnits, instant throughput)``. The instant
  throughput is the table's ``WarmThroughput.WriteUnitsPerSecond`` when DescribeTable states it, else
  4,000 WRU/s: the Developer Guide ("Initial throughput for on-demand capacity mode") promises a new
  on-demand table double its previous peak of 2,000 WRU at once, and a table switched from provisioned
  at least as much. DynamoDB raises the warm throughput as traffic grows (up to double the previous
  peak every 30 minutes, "On-demand capacity mode"), so the writers' budget ramps with it and never
  asks for more than the table serves at once.

Input is hostile: the grammar is strict (ASCII digits, no sign, no ``nan``, no underscores, no
whitespace), and ``parse_write_rate`` raises ``InvalidWriteRate`` for anything else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The share of the table's capacity the writers spend in auto mode: the stack's 3 % headroom for the
# jitter of requests arriving at the table (nicelist.local.stack.BUDGET_SHARE, measured in the README).
DEFAULT_AUTO_FRACTION = 0.97
# A new on-demand table serves double its previous peak (2,000 WRU) at once, and a table switched from
# provisioned at least that ("Initial throughput for on-demand capacity mode", Developer Guide).
ON_DEMAND_INSTANT_WRU = 4_000
MAX_TEXT = 64  # longer parameter values are refused before any regex runs

_DECIMAL = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?"  # ASCII only: no sign, "_", "nan"
_NUMBER = re.compile(_DECIMAL)
_AUTO = re.compile(rf"auto(?::(?P<fraction>{_DECIMAL}))?")


class InvalidWriteRate(ValueError):
    """The parameter (or option) is neither a positive number nor ``auto[:F]`` with 0 < F <= 1."""


@dataclass(frozen=True, slots=True)
class FixedRate:
    """W, WCU/s for the whole table, as the operator set it."""

    wcu: float

    def __str__(self) -> str:
        return f"{self.wcu:g}"


@dataclass(frozen=True, slots=True)
class AutoRate:
    """W = ``fraction`` x the table's capacity, read from DescribeTable."""

    fraction: float = DEFAULT_AUTO_FRACTION

    def __str__(self) -> str:
        return "auto" if self.fraction == DEFAULT_AUTO_FRACTION else f"auto:{self.fraction:g}"


RateSpec = FixedRate | AutoRate


def parse_write_rate(text: str) -> RateSpec:
    """``"250"`` -> ``FixedRate(250)``; ``"auto"`` / ``"auto:0.9"`` -> ``AutoRate``; else ``InvalidWriteRate``."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise InvalidWriteRate("expected a number of WCU/s or auto[:FRACTION]")
    if _NUMBER.fullmatch(text):
        value = float(text)
        if not math.isfinite(value) or value <= 0:
            raise InvalidWriteRate(f"{text!r} is not a positive number of WCU/s")
        return FixedRate(value)
    auto = _AUTO.fullmatch(text)
    if auto is None:
        raise InvalidWriteRate(f"{text[:MAX_TEXT]!r}: expected a number of WCU/s or auto[:FRACTION]")
    if auto["fraction"] is None:
        return AutoRate()
    fraction = float(auto["fraction"])
    if not 0 < fraction <= 1:
        raise InvalidWriteRate(f"auto:{auto['fraction']}: the fraction must be above 0 and at most 1")
    return AutoRate(fraction)


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


@dataclass(frozen=True, slots=True)
class TableThroughput:
    """What DescribeTable says of the table's write throughput (only what auto mode needs)."""

    on_demand: bool
    write_capacity: int | None = None  # provisioned WCU
    max_write_units: int | None = None  # on-demand maximum throughput; None: none
    warm_write_units: int | None = None  # WarmThroughput.WriteUnitsPerSecond, when stated

    @classmethod
    def from_description(cls, table: Mapping[str, Any]) -> TableThroughput:
        """From DescribeTable's ``Table``; ``ValueError`` when a provisioned table states no capacity."""
        mode = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
        on_demand = mode == "PAY_PER_REQUEST"
        capacity = _positive_int((table.get("ProvisionedThroughput") or {}).get("WriteCapacityUnits"))
        if not on_demand and capacity is None:
            raise ValueError("the table states no provisioned write capacity")
        return cls(
            on_demand=on_demand,
            write_capacity=None if on_demand else capacity,
            max_write_units=_positive_int((table.get("OnDemandThroughput") or {}).get("MaxWriteRequestUnits")),
            warm_write_units=_positive_int((table.get("WarmThroughput") or {}).get("WriteUnitsPerSecond")),
        )

    @property
    def ceiling(self) -> int:
        """WCU/s the table takes in any second: provisioned WCU, or what on-demand serves at once."""
        if not self.on_demand:
            assert self.write_capacity is not None
            return self.write_capacity
        instant = self.warm_write_units or ON_DEMAND_INSTANT_WRU
        return instant if self.max_write_units is None else min(instant, self.max_write_units)

    def describe(self) -> str:
        if not self.on_demand:
            return f"{self.ceiling} WCU"
        return f"{self.ceiling} WRU/s on-demand"


def auto_rate(spec: AutoRate, throughput: TableThroughput) -> float:
    """W in auto mode: the fraction of the table's ceiling, never above it."""
    return min(float(throughput.ceiling), spec.fraction * throughput.ceiling)


def describe_auto(spec: AutoRate, throughput: TableThroughput | None) -> str:
    """``auto (0.97 x 400 WCU = 388)``, as ``nicelist status`` and ``tune`` print it."""
    if throughput is None:
        return f"auto ({spec.fraction:g} x the table's capacity, unknown)"
    return f"auto ({spec.fraction:g} x {throughput.describe()} = {auto_rate(spec, throughput):g})"
