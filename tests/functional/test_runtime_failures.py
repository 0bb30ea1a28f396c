"""ReportBatchItemFailures and whole-batch failures: nothing is deleted that did not succeed, and what
failed reappears after the visibility timeout with its receive count one higher."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nicelist.local.runtime import WriterRuntime
from tests.handlers.stack import (
    config,
    make_queue,
    queue_depth,
    read_records,
    send,
    wait_until,
)


@pytest.fixture
def queue(sqs: Any) -> str:
    return make_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", visibility=1)[0]


def _deliveries(records: Path) -> dict[str, list[int]]:
    """Receive counts each body was delivered with, in order.

    The tests keep the batching window (0.5 s) below the visibility timeout (1 s): with a window as long
    as the visibility timeout, one batch can hold the same message twice, here as on AWS.
    """
    seen: dict[str, list[int]] = {}
    for invocation in read_records(records):
        for body, count in zip(invocation["bodies"], invocation["receive_counts"], strict=True):
            seen.setdefault(body, []).append(count)
    return seen


def test_reported_failures_reappear_and_successes_are_deleted(
    endpoint: str, sqs: Any, queue: str, tmp_path: Path
) -> None:
    records = tmp_path / "records.jsonl"
    send(sqs, queue, "ok-1", "ok-2", "ok-3", "fail-once")

    settings = config(endpoint, queue, records, batching_window_seconds=0.5, maximum_concurrency=1)
    with WriterRuntime(settings) as runtime:
        wait_until(lambda: runtime.stats().records_deleted == 4)
        stats = runtime.stats()

    assert _deliveries(records) == {"ok-1": [1], "ok-2": [1], "ok-3": [1], "fail-once": [1, 2]}
    assert (stats.records_failed, stats.batch_failures) == (1, 0)
    assert queue_depth(sqs, queue) == (0, 0)


@pytest.mark.parametrize("poison", ["raise-once", "garbage-once", "unknown-id-once"])
def test_an_exception_or_invalid_response_fails_the_whole_batch(
    endpoint: str, sqs: Any, queue: str, tmp_path: Path, poison: str
) -> None:
    records = tmp_path / "records.jsonl"
    send(sqs, queue, "ok-1", poison, "ok-2")

    settings = config(endpoint, queue, records, batching_window_seconds=0.5, maximum_concurrency=1)
    with WriterRuntime(settings) as runtime:
        wait_until(lambda: runtime.stats().records_deleted == 3)
        stats = runtime.stats()

    assert _deliveries(records) == {"ok-1": [1, 2], poison: [1, 2], "ok-2": [1, 2]}
    assert (stats.batch_failures, stats.records_failed, stats.invocations) == (1, 3, 2)


def test_returning_none_means_every_message_succeeded(endpoint: str, sqs: Any, queue: str, tmp_path: Path) -> None:
    # Why a handler that forgets its return value deletes the batch on AWS too.
    records = tmp_path / "records.jsonl"
    send(sqs, queue, "fail", "fail")

    settings = config(endpoint, queue, records, handler="tests.handlers.behave:remaining")
    with WriterRuntime(settings) as runtime:
        wait_until(lambda: runtime.stats().records_deleted == 2)

    assert queue_depth(sqs, queue) == (0, 0)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(("body", "kind"), [("sleep-once", "timeout"), ("crash-once", "died")])
def test_a_timed_out_or_dead_execution_is_replaced_and_its_batch_reappears(
    endpoint: str, sqs: Any, tmp_path: Path, body: str, kind: str
) -> None:
    records = tmp_path / "records.jsonl"
    queue = make_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", visibility=2)[0]  # outlives the 1 s timeout
    send(sqs, queue, body)

    settings = config(endpoint, queue, records, timeout_seconds=1, maximum_concurrency=1)
    with WriterRuntime(settings) as runtime:
        first = wait_until(lambda: read_records(records))[0]
        wait_until(lambda: runtime.stats().executions_replaced == 1, timeout=3)
        assert queue_depth(sqs, queue) == (0, 1)  # not deleted, not released early
        wait_until(lambda: runtime.stats().records_deleted == 1)
        stats = runtime.stats()

    second = read_records(records)[-1]
    assert _deliveries(records) == {body: [1, 2]}
    assert second["pid"] != first["pid"]
    assert second["invocation"] == 1  # a fresh environment: module state did not survive
    assert _gone(first["pid"])
    assert (stats.timeouts, stats.batch_failures) == (int(kind == "timeout"), 1)
