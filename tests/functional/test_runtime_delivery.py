"""Delivery as Lambda's SQS event source mapping does it: batches, isolation, the event and context.

GIVEN moto server and a queue, WHEN the runtime drains it, THEN the handler sees what Lambda would send.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nicelist.local.runtime import WriterRuntime
from tests.handlers.stack import config, make_queue, read_records, send, wait_until


@pytest.fixture
def queue(sqs: Any) -> str:
    return make_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", visibility=5)[0]  # no reappearance here


def test_a_batch_is_gathered_across_receives_until_full(endpoint: str, sqs: Any, queue: str, tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    send(sqs, queue, *[f"m{i}" for i in range(25)])

    with WriterRuntime(
        config(endpoint, queue, records, batch_size=20, batching_window_seconds=1, maximum_concurrency=1)
    ) as runtime:
        wait_until(lambda: runtime.stats().records_deleted == 25)

    assert [len(r["bodies"]) for r in read_records(records)] == [20, 5]


def test_window_zero_invokes_as_soon_as_messages_arrive(endpoint: str, sqs: Any, queue: str, tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    with WriterRuntime(config(endpoint, queue, records, batch_size=10, wait_time_seconds=5)) as runtime:
        time.sleep(0.3)
        sent = time.time()
        send(sqs, queue, "a", "b", "c")
        wait_until(lambda: runtime.stats().records_deleted == 3)

    first = read_records(records)[0]
    assert 1 <= len(first["bodies"]) <= 3
    assert first["started"] - sent < 0.9


def test_executions_are_isolated_processes_whose_module_state_persists(
    endpoint: str, sqs: Any, queue: str, tmp_path: Path
) -> None:
    records = tmp_path / "records.jsonl"
    send(sqs, queue, *["sleep:0.2"] * 8)

    with WriterRuntime(config(endpoint, queue, records, batch_size=1, maximum_concurrency=2)) as runtime:
        wait_until(lambda: runtime.stats().records_deleted == 8)
        pids = runtime.execution_pids()
        ps = subprocess.run(
            ["ps", "-ww", "-o", "args=", "-p", ",".join(map(str, pids))], check=False, capture_output=True, text=True
        )

    invocations: dict[int, list[int]] = {}
    for record in read_records(records):
        invocations.setdefault(record["pid"], []).append(record["invocation"])
    assert len(invocations) == 2
    assert set(invocations) == set(pids)
    assert all(counts == list(range(1, len(counts) + 1)) for counts in invocations.values())
    assert ps.stdout.count("-m nicelist.local.execution --name writer-exec-") == 2


def test_event_and_context_are_shaped_like_lambdas(endpoint: str, sqs: Any, queue: str, tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    sqs.send_message(
        QueueUrl=queue,
        MessageBody="hello",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )

    with WriterRuntime(config(endpoint, queue, records, timeout_seconds=3, memory_mb=256)) as runtime:
        wait_until(lambda: runtime.stats().records_deleted == 1)

    (invocation,) = read_records(records)
    (record,) = invocation["records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].startswith("arn:aws:sqs:us-east-1:")
    assert record["eventSourceARN"].endswith(queue.rsplit("/", 1)[1])
    assert record["awsRegion"] == "us-east-1"
    assert record["messageAttributes"]["k"]["stringValue"] == "v"
    assert set(record["attributes"]) >= {"ApproximateReceiveCount", "SentTimestamp", "SenderId"}
    assert record["md5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert 2000 < invocation["remaining_ms"] <= 3000
    assert invocation["function_name"] == "nicelist-local-writer"
    assert invocation["memory_limit_in_mb"] == 256
    assert invocation["invoked_function_arn"].startswith("arn:aws:lambda:us-east-1:")
    assert invocation["invoked_function_arn"].endswith(":function:nicelist-local-writer")
    assert str(uuid.UUID(invocation["aws_request_id"])) == invocation["aws_request_id"]
    assert invocation["log_group_name"] == "/aws/lambda/nicelist-local-writer"
    assert invocation["endpoint"] == endpoint
