"""A stage's table and queues in moto, and writer dependencies wired to them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from contract.keys import ATTRIBUTE_DEFINITIONS, KEY_SCHEMA
from writer.handler import build_deps
from writer.processor import WriterDeps
from writer.settings import WriterSettings


@dataclass
class Stage:
    session: boto3.Session
    dynamodb: Any
    sqs: Any
    queue_url: str
    dlq_url: str
    table: str

    def deps(self, **settings: Any) -> WriterDeps:
        values = {"stage": "test", "write_rate": 10_000.0, "dlq_url": self.dlq_url, **settings}
        return build_deps(WriterSettings(**values), self.session)

    def items(self, child: str) -> dict[str, dict[str, Any]]:
        response = self.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="child_id = :c",
            ExpressionAttributeValues={":c": {"S": child}},
        )
        return {item["sk"]["S"]: item for item in response["Items"]}

    def dlq_messages(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return found
            found.extend(batch)


def create_stage(session: boto3.Session, stage: str = "test") -> Stage:
    dynamodb = session.client("dynamodb")
    sqs = session.client("sqs")
    table = f"nicelist-{stage}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        KeySchema=KEY_SCHEMA,
        BillingMode="PAY_PER_REQUEST",
    )
    dlq_url = sqs.create_queue(QueueName=f"nicelist-{stage}-updates-dlq")["QueueUrl"]
    queue_url = sqs.create_queue(QueueName=f"nicelist-{stage}-updates")["QueueUrl"]
    return Stage(session, dynamodb, sqs, queue_url, dlq_url, table)


@pytest.fixture
def stage() -> Iterator[Stage]:
    with mock_aws():
        yield create_stage(boto3.Session(region_name="us-east-1"))


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
