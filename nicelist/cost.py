"""What a way of writing updates costs on AWS, from what it used: the price table and the arithmetic.

The prices live in one place, ``nicelist/prices.toml`` (region, date and sources stated there); a
user's own file with the same keys replaces it (``--prices FILE``). ``Usage`` is what one way uses per
update, from measured counts; ``bill`` turns it into dollars per million updates, by service:

- SQS: billed requests, each 64 KiB chunk of a request's payload one request. The consumer side is
  modelled as Lambda's poller does it: one ``ReceiveMessage`` per batch of up to 10 messages, billed per
  64 KiB chunk of what it returns, one ``DeleteMessageBatch`` per batch; empty polls are left out;
- Lambda: requests, and GB-seconds at the function's memory size;
- DynamoDB: write units on demand, or provisioned WCU-hours held for the drain (two totals);
- API Gateway: requests, where producers go through the enqueue API (REST; HTTP API shown beside it).

The free tiers are left out: the figures are the marginal bill of a busy account.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

# The functions' memory sizes, as zappa_settings.json deploys them (a unit test checks they agree).
WRITER_MEMORY_MB = 256
API_MEMORY_MB = 256
LAMBDA_BATCH_MESSAGES = 10  # the SQS event source mapping's batch (and ReceiveMessage's maximum)
_KEYS = {
    "sqs": ("standard_per_million_requests", "billing_chunk_bytes"),
    "lambda": ("per_million_requests", "per_gb_second"),
    "dynamodb": ("on_demand_per_million_write_units", "provisioned_per_wcu_hour"),
    "api_gateway": ("rest_per_million_requests", "http_per_million_requests"),
}


class PriceError(ValueError):
    """A price table that cannot be used; the message says which key and why."""


@dataclass(frozen=True, slots=True)
class Prices:
    region: str
    as_of: str
    sources: tuple[str, ...]
    sqs_per_million: float
    sqs_chunk_bytes: int
    lambda_per_million: float
    lambda_per_gb_second: float
    on_demand_per_million_wru: float
    provisioned_per_wcu_hour: float
    rest_api_per_million: float
    http_api_per_million: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_prices(path: Path | None = None) -> Prices:
    """The package's price table, or ``path`` (TOML, same keys)."""
    try:
        source = resources.files("nicelist").joinpath("prices.toml") if path is None else path
        table = tomllib.loads(source.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PriceError(f"{path or 'nicelist/prices.toml'}: {error}") from error
    numbers = {section: {key: _price(table, section, key) for key in keys} for section, keys in _KEYS.items()}
    for key in ("region", "as_of"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise PriceError(f"{key}: a non-empty string is required (where and when these prices held)")
    sources = table.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(source, str) for source in sources):
        raise PriceError("sources: a list of strings")
    sqs, aws_lambda, dynamodb, gateway = (numbers[section] for section in _KEYS)
    chunk = sqs["billing_chunk_bytes"]
    if chunk != int(chunk) or chunk < 1:
        raise PriceError("sqs.billing_chunk_bytes: a whole number of bytes >= 1")
    return Prices(
        region=table["region"],
        as_of=table["as_of"],
        sources=tuple(sources),
        sqs_per_million=sqs["standard_per_million_requests"],
        sqs_chunk_bytes=int(chunk),
        lambda_per_million=aws_lambda["per_million_requests"],
        lambda_per_gb_second=aws_lambda["per_gb_second"],
        on_demand_per_million_wru=dynamodb["on_demand_per_million_write_units"],
        provisioned_per_wcu_hour=dynamodb["provisioned_per_wcu_hour"],
        rest_api_per_million=gateway["rest_per_million_requests"],
        http_api_per_million=gateway["http_per_million_requests"],
    )


def _price(table: dict[str, Any], section: str, key: str) -> float:
    value = table.get(section, {}).get(key) if isinstance(table.get(section), dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise PriceError(f"{section}.{key}: a finite number >= 0 is required, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Usage:
    """What one way uses per update."""

    sqs_requests: float  # billed (64 KiB chunks), sends and the consumer's receives and deletes
    lambda_requests: float  # invocations, every function of the way
    lambda_gb_seconds: float
    write_units: float  # DynamoDB write units (on demand: write request units)
    wcu_hours: float  # provisioned capacity held while the way drains
    api_requests: float = 0.0  # through API Gateway; 0 where producers send to SQS themselves


def consumer_sqs_requests(messages: float, payload_bytes: float, chunk_bytes: int) -> float:
    """Billed requests of Lambda's poller for ``messages`` carrying ``payload_bytes``: receives in
    batches of 10, each billed per 64 KiB chunk it returns, and one ``DeleteMessageBatch`` per batch."""
    batches = messages / LAMBDA_BATCH_MESSAGES
    return max(batches, payload_bytes / chunk_bytes) + batches


def gb_seconds(seconds: float, memory_mb: int) -> float:
    return seconds * memory_mb / 1024


def wcu_hours(write_units: float, drain_ratio: float) -> float:
    """Provisioned WCU-hours to take ``write_units``: at full use units / 3600, stretched by how much
    longer than the ideal the drain took (``drain_ratio`` = drain time / (units / capacity))."""
    return write_units * max(1.0, drain_ratio) / 3600


@dataclass(frozen=True, slots=True)
class Bill:
    """Dollars for ``updates`` updates, by service; two totals, one per billing mode of the table."""

    updates: float
    sqs: float
    lambda_requests: float
    lambda_compute: float
    dynamodb_on_demand: float
    dynamodb_provisioned: float
    api_gateway_rest: float
    api_gateway_http: float

    @property
    def total_on_demand(self) -> float:
        return self.sqs + self.lambda_requests + self.lambda_compute + self.dynamodb_on_demand + self.api_gateway_rest

    @property
    def total_provisioned(self) -> float:
        common = self.sqs + self.lambda_requests + self.lambda_compute + self.api_gateway_rest
        return common + self.dynamodb_provisioned

    def lines(self) -> list[tuple[str, float]]:
        return [
            ("SQS requests", self.sqs),
            ("Lambda requests", self.lambda_requests),
            ("Lambda GB-seconds", self.lambda_compute),
            ("DynamoDB on-demand writes", self.dynamodb_on_demand),
            ("DynamoDB provisioned WCU-hours", self.dynamodb_provisioned),
            ("API Gateway REST requests", self.api_gateway_rest),
            ("(API Gateway HTTP API instead)", self.api_gateway_http),
            ("total, on-demand table", self.total_on_demand),
            ("total, provisioned table", self.total_provisioned),
        ]

    def as_dict(self) -> dict[str, float]:
        data = asdict(self)
        data["total_on_demand"] = self.total_on_demand
        data["total_provisioned"] = self.total_provisioned
        return data


def bill(usage: Usage, prices: Prices, updates: float = 1e6) -> Bill:
    per_million = updates / 1e6
    return Bill(
        updates=updates,
        sqs=usage.sqs_requests * per_million * prices.sqs_per_million,
        lambda_requests=usage.lambda_requests * per_million * prices.lambda_per_million,
        lambda_compute=usage.lambda_gb_seconds * updates * prices.lambda_per_gb_second,
        dynamodb_on_demand=usage.write_units * per_million * prices.on_demand_per_million_wru,
        dynamodb_provisioned=usage.wcu_hours * updates * prices.provisioned_per_wcu_hour,
        api_gateway_rest=usage.api_requests * per_million * prices.rest_api_per_million,
        api_gateway_http=usage.api_requests * per_million * prices.http_api_per_million,
    )


def drain_bill(
    *,
    updates: float,
    units_per_update: float,
    drain_seconds: float,
    concurrency: int,
    messages: float,
    table_wcu: int,
    prices: Prices,
) -> Bill:
    """What draining ``updates`` costs the writer's side (``nicelist plan``): paced executions are busy
    the whole drain, so ``concurrency`` x drain x memory GB-seconds, one invocation per 10 messages;
    on demand every write unit, provisioned ``table_wcu`` held for the drain. SQS sends and the API
    depend on the producers and are left out (``nicelist bench`` measures them)."""
    usage = Usage(
        sqs_requests=0.0,
        lambda_requests=messages / LAMBDA_BATCH_MESSAGES / updates if updates else 0.0,
        lambda_gb_seconds=gb_seconds(concurrency * drain_seconds, WRITER_MEMORY_MB) / updates if updates else 0.0,
        write_units=units_per_update,
        wcu_hours=table_wcu * drain_seconds / 3600 / updates if updates else 0.0,
    )
    return bill(usage, prices, updates)
