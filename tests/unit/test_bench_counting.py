"""What the benchmark counts (nicelist/bench/counting.py): SQS requests as billed, DynamoDB requests and units,
and an SQS that answers at once without a server."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from nicelist.bench.counting import DynamoCounter, SqsCounter, answer_at_once

NOWHERE = "http://127.0.0.1:9"  # the discard port: any request that reached it would fail
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/q"


def _client(service: str) -> Any:
    return boto3.client(
        service, region_name="us-east-1", endpoint_url=NOWHERE, aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_an_sqs_that_answers_at_once_accepts_every_message_without_a_server() -> None:
    sqs = answer_at_once(_client("sqs"))
    entries = [{"Id": f"m{i}", "MessageBody": f"body {i}"} for i in range(10)]
    answer = sqs.send_message_batch(QueueUrl=QUEUE, Entries=entries)
    assert sorted(s["Id"] for s in answer["Successful"]) == sorted(e["Id"] for e in entries)
    assert not answer.get("Failed")
    assert sqs.send_message(QueueUrl=QUEUE, MessageBody="one")["MessageId"]


def test_sqs_requests_are_counted_as_billed_one_per_started_64_kib_chunk() -> None:
    sqs = answer_at_once(_client("sqs"))
    counter = SqsCounter().attach(sqs)
    ten_kib = "x" * 10 * 1024
    sqs.send_message_batch(QueueUrl=QUEUE, Entries=[{"Id": str(i), "MessageBody": ten_kib} for i in range(10)])
    sqs.send_message(QueueUrl=QUEUE, MessageBody="small")
    assert counter.requests == 2
    assert counter.billed == 2 + 1  # 100 KiB in one batch is two chunks; a small message one
    assert (counter.messages_sent, counter.bytes_sent) == (11, 100 * 1024 + 5)
    assert counter.by_operation == {"SendMessageBatch": 1, "SendMessage": 1}


def test_dynamodb_writes_are_counted_in_requests_and_the_units_of_their_items() -> None:
    dynamodb = _client("dynamodb")
    counter = DynamoCounter().attach(dynamodb)
    small = {"pk": {"S": "c-1"}, "sk": {"S": "STATUS"}}
    big = {"pk": {"S": "c-2"}, "sk": {"S": "STATUS"}, "blob": {"S": "x" * 1500}}  # over 1 KB: 2 units
    with Stubber(dynamodb) as stub:
        stub.add_response("put_item", {})
        stub.add_response("batch_write_item", {"UnprocessedItems": {}})
        dynamodb.put_item(TableName="t", Item=big)
        dynamodb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": small}}] * 3})
    assert (counter.requests, counter.units) == (2, 2 + 3)
    assert counter.by_operation == {"PutItem": 1, "BatchWriteItem": 1}
