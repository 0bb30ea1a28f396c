"""The SQS event Lambda builds, and Lambda's ReportBatchItemFailures rules."""

from __future__ import annotations

import base64

import pytest

from nicelist.local.events import InvalidBatchResponse, failed_message_ids, sqs_event

ARN = "arn:aws-cn:sqs:cn-north-1:123456789012:nicelist-local-updates"
MESSAGE = {
    "MessageId": "m-1",
    "ReceiptHandle": "rh-1",
    "MD5OfBody": "49f68a5c8493ec2c0bf489821c21fc3b",
    "Body": "hi",
    "Attributes": {
        "SenderId": "AIDAEXAMPLE",
        "SentTimestamp": "1795342294637",
        "ApproximateReceiveCount": "2",
        "ApproximateFirstReceiveTimestamp": "1795342294642",
        "MessageDeduplicationId": "not for standard queues",
    },
    "MessageAttributes": {
        "kind": {"StringValue": "status", "DataType": "String"},
        "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
    },
}


def test_event_has_lambdas_record_shape() -> None:
    (record,) = sqs_event([MESSAGE], ARN, "cn-north-1")["Records"]

    assert record["messageId"] == "m-1"
    assert record["receiptHandle"] == "rh-1"
    assert record["body"] == "hi"
    assert record["md5OfBody"] == MESSAGE["MD5OfBody"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == ARN
    assert record["awsRegion"] == "cn-north-1"
    assert record["attributes"] == {
        "ApproximateReceiveCount": "2",
        "SentTimestamp": "1795342294637",
        "SenderId": "AIDAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": "1795342294642",
    }


def test_message_attributes_use_lambdas_camel_case_and_base64() -> None:
    (record,) = sqs_event([MESSAGE], ARN, "cn-north-1")["Records"]

    assert record["messageAttributes"]["kind"] == {
        "stringValue": "status",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["blob"]["binaryValue"] == base64.b64encode(b"\x00\x01").decode()
    assert record["messageAttributes"]["blob"]["dataType"] == "Binary"


IDS = ["a", "b", "c"]


@pytest.mark.parametrize(
    "response",
    [
        None,
        {},
        {"batchItemFailures": []},
        {"batchItemFailures": None},
        {"batchItemFailure": [{"itemIdentifier": "a"}]},
    ],
)
def test_responses_lambda_takes_as_complete_success(response: object) -> None:
    # The misspelt key is the trap: Lambda ignores unknown keys and deletes the whole batch.
    assert failed_message_ids(response, IDS) == set()


def test_reported_failures_are_the_ids_left_on_the_queue() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c", "extra": 1}]}

    assert failed_message_ids(response, IDS) == {"a", "c"}


@pytest.mark.parametrize(
    "response",
    [
        "garbage",
        ["a"],
        42,
        {"batchItemFailures": "a"},
        {"batchItemFailures": ["a"]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemidentifier": "a"}]},
        {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": 1}]},
    ],
)
def test_invalid_responses_fail_the_whole_batch(response: object) -> None:
    with pytest.raises(InvalidBatchResponse):
        failed_message_ids(response, IDS)
