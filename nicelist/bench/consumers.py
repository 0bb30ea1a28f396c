"""The two consumers, in-process against moto (``mock_aws``), given the same batches.

- nicelist: ``writer.handler.handle`` (validate, coalesce, conditional state puts, BatchWriteItem of
  track points) on 10 envelopes of 1,000 updates per invocation, with a write rate of 1e6 WCU/s so the
  per-second budget never waits: this measures cost and correctness, not pacing;
- naive: "process_event does a write": per update, in delivery order, an unconditional PutItem of the
  STATUS/LOCATION register and one of the track point of each fix, ten one-update messages per invocation.
"""

from __future__ import annotations

import hashlib
import math
import time
import tracemalloc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from contract.keys import ATTRIBUTE_DEFINITIONS, KEY_SCHEMA
from contract.names import StageNames
from contract.updates import LocationUpdate, parse_update
from contract.updates import format_timestamp as stamp
from nicelist.bench.counting import DynamoCounter
from nicelist.bench.workload import BATCH_MESSAGES, START, Batch, Workload
from nicelist.demo.verify import Expected, Verdict, compare, scan_table
from nicelist.local.context import LambdaContext
from nicelist.local.events import sqs_event
from writer.handler import build_deps, handle
from writer.items import state_item, track_item
from writer.settings import WriterSettings

UNPACED_WRITE_RATE = 1e6
TRACK_RETENTION_DAYS = 30
_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:nicelist-bench-updates"


@dataclass(frozen=True, slots=True)
class ConsumerResult:
    name: str
    updates: int
    seconds: float
    invocations: int
    requests: int
    units: int
    verdict: Verdict
    by_operation: dict[str, int] = field(default_factory=dict)

    def per_1000(self, value: float) -> float:
        return value * 1000 / self.updates if self.updates else 0.0


def event(batch: Batch) -> dict[str, Any]:
    messages = [
        {
            "MessageId": str(uuid.uuid4()),
            "ReceiptHandle": "r",
            "Body": body,
            "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        }
        for body in batch
    ]
    return cast(dict[str, Any], sqs_event(messages, _QUEUE_ARN, "us-east-1"))


def create_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name, AttributeDefinitions=ATTRIBUTE_DEFINITIONS, KeySchema=KEY_SCHEMA, BillingMode="PAY_PER_REQUEST"
    )


def _writer_deps(session: Any, stage: str) -> Any:
    """The writer as provisioning leaves it: its table, its DLQ, its drain-rate parameter (unpaced here)."""
    names = StageNames(stage)
    dlq = session.client("sqs").create_queue(QueueName=names.dlq)["QueueUrl"]
    create_table(session.client("dynamodb"), names.table)
    ssm = session.client("ssm")
    ssm.put_parameter(Name=names.write_rate_parameter, Value=str(UNPACED_WRITE_RATE), Type="String")
    ssm.put_parameter(Name=names.writer_concurrency_parameter, Value="1", Type="String")
    return build_deps(WriterSettings(stage=stage, write_rate=UNPACED_WRITE_RATE, dlq_url=dlq), session)


def _context() -> LambdaContext:
    return LambdaContext.starting_now("nicelist-bench-writer", 900.0)


def run_writer(session: Any, batched: Sequence[Batch], work: Workload, expected: Expected) -> ConsumerResult:
    deps = _writer_deps(session, "bench")
    counter = DynamoCounter().attach(deps.dynamodb)
    started = time.perf_counter()
    for batch in batched:
        response = handle(event(batch), _context(), deps)
        if response["batchItemFailures"]:
            raise RuntimeError(f"the writer returned messages on an unpaced run: {response}")
    seconds = time.perf_counter() - started
    deps.executor.shutdown()
    verdict = compare(expected, scan_table(session.client("dynamodb"), StageNames("bench").table))
    return ConsumerResult(
        "nicelist", len(work.stream), seconds, len(batched), counter.requests, counter.units, verdict,
        counter.by_operation,
    )  # fmt: skip


def run_naive(session: Any, work: Workload, expected: Expected) -> ConsumerResult:
    """One put per update and one more per track point, in the order the updates arrive."""
    dynamodb = session.client("dynamodb")
    create_table(dynamodb, "naive")
    counter = DynamoCounter().attach(dynamodb)
    written_at = stamp(START)
    started = time.perf_counter()
    for raw in work.stream:
        update = parse_update(raw)
        dynamodb.put_item(TableName="naive", Item=state_item(update, written_at))
        if isinstance(update, LocationUpdate):
            dynamodb.put_item(TableName="naive", Item=track_item(update, written_at, TRACK_RETENTION_DAYS))
    seconds = time.perf_counter() - started
    verdict = compare(expected, scan_table(dynamodb, "naive"))
    invocations = math.ceil(len(work.stream) / BATCH_MESSAGES)
    return ConsumerResult(
        "naive", len(work.stream), seconds, invocations, counter.requests, counter.units, verdict, counter.by_operation
    )


def writer_memory(session: Any, batch: Batch) -> dict[str, float]:
    """tracemalloc peak of one invocation on a fresh table, after a warm-up invocation.

    moto runs in this process, so the peak includes its request handling and the items it stores;
    the retained part (still allocated after the invocation) is mostly moto's table.
    """
    deps = _writer_deps(session, "mem")
    handle(event(batch[:1]), _context(), deps)  # warm: imports, clients, thread pool
    the_event = event(batch)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    handle(the_event, _context(), deps)
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    deps.executor.shutdown()
    mib = 2**20
    return {"tracemalloc_peak_mib": round((peak - before) / mib, 1), "retained_mib": round((after - before) / mib, 1)}
