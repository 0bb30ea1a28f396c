"""Receive counts drive the queue's own redrive policy (moto server implements maxReceiveCount), and
reserved concurrency below the mapping's maximum concurrency pushes healthy messages to the DLQ."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nicelist.local.runtime import WriterRuntime
from tests.handlers.stack import (
    config,
    drain,
    make_queue,
    queue_depth,
    read_records,
    send,
    wait_until,
)


def test_a_message_that_keeps_failing_is_redriven_to_the_dlq_unchanged(endpoint: str, sqs: Any, tmp_path: Path) -> None:
    queue, dlq = make_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", visibility=1, max_receive=2)
    send(sqs, queue, "fail", "ok")

    with WriterRuntime(config(endpoint, queue, tmp_path / "r.jsonl", maximum_concurrency=1)) as runtime:
        wait_until(lambda: queue_depth(sqs, dlq)[0] == 1, timeout=8)
        stats = runtime.stats()

    (dead,) = drain(sqs, dlq)
    assert dead["Body"] == "fail"
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 2
    assert stats.records_failed == 2
    assert stats.records_deleted == 1
    assert queue_depth(sqs, queue) == (0, 0)


def test_a_returned_message_comes_back_when_its_changed_visibility_ends(
    endpoint: str, sqs: Any, tmp_path: Path
) -> None:
    # GIVEN a queue whose visibility timeout is 30 s, and a handler that fails a message after asking SQS
    # to show it again in 1 s (the writer's backoff)
    queue, _ = make_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", visibility=30)
    send(sqs, queue, "backoff-once")
    records = tmp_path / "r.jsonl"
    settings = config(
        endpoint, queue, records, maximum_concurrency=1, environment={"RECORD_PATH": str(records), "QUEUE_URL": queue}
    )
    # WHEN the runtime delivers it THEN it is delivered again within seconds, not after 30 s
    with WriterRuntime(settings):
        wait_until(lambda: len(read_records(records)) >= 2, timeout=10)
    first, second = read_records(records)[:2]
    assert second["receive_counts"] == [2]
    assert second["started"] - first["started"] < 10


def _throttle_run(endpoint: str, sqs: Any, tmp_path: Path, reserved: int, maximum: int) -> tuple[Any, int]:
    queue, dlq = make_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", visibility=1, max_receive=2)
    send(sqs, queue, *["sleep:0.4"] * 6)
    settings = config(
        endpoint,
        queue,
        tmp_path / "r.jsonl",
        batch_size=1,
        reserved_concurrency=reserved,
        maximum_concurrency=maximum,
    )
    with WriterRuntime(settings) as runtime:
        wait_until(lambda: sum(queue_depth(sqs, queue)) == 0 and runtime.stats().in_flight == 0, timeout=15)
        stats = runtime.stats()
    return stats, len(drain(sqs, dlq))


def test_reserved_below_maximum_concurrency_throttles_healthy_messages_into_the_dlq(
    endpoint: str, sqs: Any, tmp_path: Path
) -> None:
    stats, dead = _throttle_run(endpoint, sqs, tmp_path, reserved=1, maximum=3)

    assert stats.throttled_invocations > 0
    assert stats.concurrency == 1
    assert (stats.batch_failures, stats.records_failed) == (0, 0)  # the handler never failed...
    assert dead > 0  # ...and still messages reached the DLQ
    assert stats.records_deleted + dead == 6


def test_maximum_concurrency_within_reserved_never_throttles(endpoint: str, sqs: Any, tmp_path: Path) -> None:
    stats, dead = _throttle_run(endpoint, sqs, tmp_path, reserved=2, maximum=2)

    assert (stats.throttled_invocations, dead, stats.records_deleted) == (0, 0, 6)
