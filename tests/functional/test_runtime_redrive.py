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
