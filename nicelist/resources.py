"""Idempotent "ensure" steps for one stage's queues, table, topic and parameter.

Each step reads what exists, creates what is missing, repairs what drifted, and says which of
the three it did. The same code runs against moto and AWS: clients are passed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from contract.keys import ATTRIBUTE_DEFINITIONS, EXPIRES_AT, KEY_SCHEMA
from contract.names import queue_url
from nicelist.console import error_code

_MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one ensure step did to one resource."""

    resource: str
    name: str
    action: str  # "created" | "updated" | "unchanged"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class QueueRef:
    url: str
    arn: str


def _same_attribute(key: str, current: str | None, desired: str) -> bool:
    if current is None:
        return False
    if key == "RedrivePolicy":
        now, want = json.loads(current), json.loads(desired)
        return bool(
            now.get("deadLetterTargetArn") == want["deadLetterTargetArn"]
            and int(now.get("maxReceiveCount", 0)) == int(want["maxReceiveCount"])
        )
    return current == desired


def find_queue_url(sqs: Any, name: str) -> str | None:
    """The URL of the queue called ``name``, or None when there is no such queue."""
    try:
        return queue_url(sqs, name)
    except ClientError as error:
        if error_code(error) not in _MISSING_QUEUE:
            raise
        return None


def ensure_queue(sqs: Any, name: str, desired: dict[str, str]) -> tuple[QueueRef, Outcome]:
    """Create the queue with ``desired`` attributes, or set the ones that drifted."""
    url = find_queue_url(sqs, name)
    created = url is None
    if url is None:
        url = sqs.create_queue(QueueName=name, Attributes=desired)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    drift = {k: v for k, v in desired.items() if not _same_attribute(k, attributes.get(k), v)}
    if drift:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=drift)
    ref = QueueRef(url=url, arn=attributes["QueueArn"])
    if created:
        return ref, Outcome("queue", name, "created")
    if drift:
        return ref, Outcome("queue", name, "updated", "set " + ", ".join(sorted(drift)))
    return ref, Outcome("queue", name, "unchanged")


@dataclass(frozen=True, slots=True)
class TableCapacity:
    """Provisioned WCU/RCU, or on-demand when ``on_demand``."""

    write: int = 100
    read: int = 5
    on_demand: bool = False

    def arguments(self) -> dict[str, Any]:
        if self.on_demand:
            return {"BillingMode": "PAY_PER_REQUEST"}
        return {
            "BillingMode": "PROVISIONED",
            "ProvisionedThroughput": {"ReadCapacityUnits": self.read, "WriteCapacityUnits": self.write},
        }

    def matches(self, table: dict[str, Any]) -> bool:
        mode = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        if self.on_demand:
            return bool(mode == "PAY_PER_REQUEST")
        throughput = table.get("ProvisionedThroughput", {})
        return bool(
            mode == "PROVISIONED"
            and throughput.get("WriteCapacityUnits") == self.write
            and throughput.get("ReadCapacityUnits") == self.read
        )


def _create_table(dynamodb: Any, name: str, capacity: TableCapacity) -> None:
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        KeySchema=KEY_SCHEMA,
        **capacity.arguments(),
    )


def ensure_table(dynamodb: Any, name: str, capacity: TableCapacity) -> tuple[str, list[Outcome]]:
    """Create the table (docs/design.md, "The table") or repair its capacity, wait until active, enable TTL."""
    outcomes: list[Outcome] = []
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        _create_table(dynamodb, name, capacity)
        outcomes.append(Outcome("table", name, "created"))
    else:
        if capacity.matches(table):
            outcomes.append(Outcome("table", name, "unchanged"))
        else:
            dynamodb.update_table(TableName=name, **capacity.arguments())
            outcomes.append(Outcome("table", name, "updated", "capacity"))
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
    arn = str(dynamodb.describe_table(TableName=name)["Table"]["TableArn"])
    outcomes.append(_ensure_ttl(dynamodb, name))
    return arn, outcomes


def _ensure_ttl(dynamodb: Any, name: str) -> Outcome:
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"} and ttl.get("AttributeName") == EXPIRES_AT:
        return Outcome("ttl", name, "unchanged", EXPIRES_AT)
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRES_AT})
    return Outcome("ttl", name, "updated", EXPIRES_AT)


def ensure_topic(sns: Any, name: str, email: str | None) -> tuple[str, list[Outcome]]:
    """Create the alarm topic (``create_topic`` is idempotent) and subscribe ``email`` once."""
    existing = {
        topic["TopicArn"]
        for page in sns.get_paginator("list_topics").paginate()
        for topic in page["Topics"]
        if topic["TopicArn"].endswith(f":{name}")
    }
    arn = str(sns.create_topic(Name=name)["TopicArn"])
    outcomes = [Outcome("topic", name, "unchanged" if arn in existing else "created")]
    if email:
        subscribed = {
            sub["Endpoint"]
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
            for sub in page["Subscriptions"]
        }
        if email in subscribed:
            outcomes.append(Outcome("subscription", email, "unchanged"))
        else:
            sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=email)
            outcomes.append(Outcome("subscription", email, "created", "confirm by email"))
    return arn, outcomes


def format_rate(rate: float) -> str:
    """``100.0`` → ``"100"``: the parameter holds what an operator would type."""
    return f"{rate:g}"


def ensure_write_rate(ssm: Any, name: str, default: float, explicit: float | None) -> tuple[float, Outcome]:
    """Create the drain-rate parameter if absent; overwrite only when a rate is given explicitly,
    so re-provisioning never resets what an operator tuned during a peak."""
    try:
        current = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        if error_code(error) != "ParameterNotFound":
            raise
        rate = default if explicit is None else explicit
        ssm.put_parameter(Name=name, Value=format_rate(rate), Type="String", Description=_RATE_HELP)
        return rate, Outcome("parameter", name, "created", format_rate(rate))
    if explicit is None or float(current) == explicit:
        return float(current), Outcome("parameter", name, "unchanged", str(current))
    ssm.put_parameter(Name=name, Value=format_rate(explicit), Type="String", Overwrite=True)
    return explicit, Outcome("parameter", name, "updated", f"{current} -> {format_rate(explicit)}")


_RATE_HELP = "nicelist: table-wide write budget (WCU/s) the writers share; tune with `nicelist rate`."
