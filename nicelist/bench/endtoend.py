"""Both ways end to end through the local stack, and the enqueue API under load.

nicelist: the demo's story (``nicelist.demo.run.run_buffered``: a quiet baseline, a spike of ~10x the
table's capacity, quiet again) sent through the enqueue API, drained by the writer runtime into the
metered table. naive: the same story, each update its own ``SendMessage`` (paced by the demo's
``DirectSender``), drained by a consumer that writes one item per record with ``PutItem`` (the SDK's
default retries; a failed record fails its whole batch, which SQS delivers again, as a Lambda without
``ReportBatchItemFailures``), with as many invocations at once as an unreserved Lambda would soon have
(10 here; the writer has its reserved 2), into a table of the same capacity. Both are measured by the
meter in front of DynamoDB and checked against a full scan.

Then the writer runtime is stopped and the API (arrays of 100) and a naive producer (``SendMessage``
per update, straight to moto) each get the same closed-loop load: the enqueue rate and its latency.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contract.names import StageNames
from contract.updates import InvalidUpdate, LocationUpdate, parse_update
from contract.updates import format_timestamp as stamp
from nicelist.bench.consumers import TRACK_RETENTION_DAYS
from nicelist.bench.counting import SqsCounter
from nicelist.bench.load import LoadFigures, api_call, closed_loop, send_message_call
from nicelist.bench.producers import ARRAY
from nicelist.demo.direct import THREADS as DIRECT_THREADS
from nicelist.demo.direct import DirectSender
from nicelist.demo.monitor import MeterReader
from nicelist.demo.report import RateFigures, rate_figures
from nicelist.demo.run import DemoOptions, plan, run_buffered, watch
from nicelist.demo.verify import Expected, compare, scan_table
from nicelist.local.processes import free_port
from nicelist.local.stack import LocalStack, StackConfig
from producers.synthetic import generate
from writer.items import state_item, track_item

NAIVE_STAGE = "bench-naive"
NAIVE_VISIBILITY_SECONDS = 10  # a failed batch is delivered again this long after (ReceiveMessage's own)
POLL_WAIT_SECONDS = 1


@dataclass(frozen=True, slots=True)
class EndToEnd:
    """One way through the local stack: what it sent, what the table shows, what the meter saw."""

    name: str
    updates: int  # accepted by the producer side
    seconds: float  # from the first send until the queue was empty
    lost: int
    correct: bool
    rates: RateFigures
    invocations: int
    invocation_seconds: float  # summed: the Lambda duration billed
    sqs_consumer_requests: int
    sqs_consumer_billed: int
    dead_lettered: int = 0

    @property
    def updates_per_s(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    @property
    def throttled_share(self) -> float:
        attempted = self.rates.total_units + self.rates.throttled_units
        return self.rates.throttled_units / attempted if attempted else 0.0


def stack_config(moto_port: int, run_dir: Path, capacity: int, concurrency: int) -> StackConfig:
    """The stack on ``moto_port`` and the three ports after it, or on free ports when it is 0."""
    ports = [free_port() for _ in range(4)] if moto_port == 0 else [moto_port + k for k in range(4)]
    return StackConfig(
        moto_port=ports[0], meter_port=ports[1], api_port=ports[2], control_port=ports[3],
        run_dir=run_dir, capacity=capacity, concurrency=concurrency, watch_health=False,
    )  # fmt: skip


def buffered(stack: LocalStack, options: DemoOptions, poller: SqsCounter) -> EndToEnd:
    """The demo's buffered run; the writers' invocations and durations from their "batch done" lines."""
    assert stack.runtime is not None
    log_path = stack.runtime.config.log_path
    offset = log_path.stat().st_size if log_path is not None and log_path.exists() else 0
    report, run, _ = run_buffered(stack, options)
    invocations, seconds = batch_durations(log_path, offset)
    return EndToEnd(
        "nicelist", report.accepted, run.finished - run.started, report.lost, report.ok, report.rates,
        invocations, seconds, poller.requests, poller.billed, report.dead_lettered,
    )  # fmt: skip


def batch_durations(log_path: Path | None, offset: int = 0) -> tuple[int, float]:
    """(invocations, summed seconds) from the writer's "batch done" log lines after ``offset``."""
    if log_path is None or not log_path.exists():
        return 0, 0.0
    count, seconds = 0, 0.0
    with log_path.open("rb") as log:
        log.seek(offset)
        for line in log:
            if b'"batch done"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("message") == "batch done":
                count += 1
                seconds += float(entry.get("seconds", 0.0))
    return count, seconds


class NaiveProducer(DirectSender):
    """The demo's direct sender, paced the same way; each update becomes one ``SendMessage``."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        super().__init__(sqs, queue_url)
        self._sqs, self._queue_url = sqs, queue_url

    def _put(self, raw: dict[str, Any]) -> None:
        try:
            parse_update(raw)  # generous to the naive way: its producers drop what the contract rejects
        except InvalidUpdate:
            self.counts.record(int(time.time()), [raw], 400)
            return
        try:
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(raw))
        except (ClientError, BotoCoreError):
            self.counts.record(int(time.time()), [raw], 503)
            return
        self.counts.record(int(time.time()), [raw], 202)


class NaiveConsumer:
    """``concurrency`` pollers, each a Lambda invocation per batch of up to 10 one-update messages."""

    def __init__(self, sqs: Any, queue_url: str, dynamodb: Any, table: str, concurrency: int) -> None:
        self._sqs, self._queue_url = sqs, queue_url
        self._dynamodb, self._table = dynamodb, table
        self._concurrency = concurrency
        self._lock = threading.Lock()
        self.invocations = 0
        self.seconds = 0.0
        self.failed_batches = 0

    def run(self, producing: threading.Thread, timeout: float) -> None:
        """Poll until the producer has finished and the queue is empty (or ``timeout`` has passed)."""
        deadline = time.monotonic() + timeout
        pollers = [
            threading.Thread(target=self._poll, args=(producing, deadline), name=f"naive-{k}")
            for k in range(self._concurrency)
        ]
        for poller in pollers:
            poller.start()
        for poller in pollers:
            poller.join()

    def _poll(self, producing: threading.Thread, deadline: float) -> None:
        while time.monotonic() < deadline:
            messages = self._sqs.receive_message(
                QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=POLL_WAIT_SECONDS,
                VisibilityTimeout=NAIVE_VISIBILITY_SECONDS,
            ).get("Messages", [])  # fmt: skip
            if messages:
                self._invoke(messages)
            elif not producing.is_alive() and self._empty():
                return

    def _invoke(self, messages: list[dict[str, Any]]) -> None:
        started = time.perf_counter()
        try:
            for message in messages:
                self._write(json.loads(message["Body"]))
        except (ClientError, BotoCoreError):
            ok = False  # the whole batch comes back after the visibility timeout
        else:
            ok = True
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)
        with self._lock:
            self.invocations += 1
            self.seconds += time.perf_counter() - started
            self.failed_batches += 0 if ok else 1

    def _write(self, raw: dict[str, Any]) -> None:
        update = parse_update(raw)
        written_at = stamp_now()
        self._dynamodb.put_item(TableName=self._table, Item=state_item(update, written_at))
        if isinstance(update, LocationUpdate):
            self._dynamodb.put_item(TableName=self._table, Item=track_item(update, written_at, TRACK_RETENTION_DAYS))

    def _empty(self) -> bool:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=names)["Attributes"]
        return all(int(attributes[name]) == 0 for name in names)


def stamp_now() -> str:
    return stamp(datetime.now(UTC))


def naive(stack: LocalStack, options: DemoOptions, concurrency: int) -> EndToEnd:
    names = StageNames(NAIVE_STAGE)
    sqs = stack.client("sqs", config=Config(max_pool_connections=DIRECT_THREADS))
    queue_url = sqs.get_queue_url(QueueName=names.queue)["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=names.dlq)["QueueUrl"]
    consumer_sqs = stack.client("sqs", config=Config(max_pool_connections=max(10, concurrency)))
    counter = SqsCounter().attach(consumer_sqs)
    dynamodb = stack.client(  # the SDK's default retries
        "dynamodb", metered=True, config=Config(max_pool_connections=max(10, concurrency))
    )
    phases, updates = plan(options, stack.config.capacity)
    producer = NaiveProducer(sqs, queue_url)
    consumer = NaiveConsumer(consumer_sqs, queue_url, dynamodb, names.table, concurrency)
    started = time.time()
    producing = threading.Thread(target=producer.run, args=(phases, updates), name="naive-producer")
    consuming = threading.Thread(target=consumer.run, args=(producing, options.drain_timeout), name="naive-consumer")
    watch([producing, consuming], lambda: None, options.drain_timeout + 60)
    finished = time.time()
    expected = Expected()
    expected.extend(producer.counts.accepted_updates)
    verdict = compare(expected, scan_table(stack.client("dynamodb"), names.table))
    series = MeterReader(stack.dynamodb_url, names.table).table_stats(int(finished - started) + 5).get("series", [])
    spike_start = int(started + phases[0].seconds)
    rates = rate_figures(series, stack.config.capacity, stack.config.capacity, spike_start)
    dead = _depth(consumer_sqs, dlq_url)
    lost = verdict.lost + producer.counts.failed
    return EndToEnd(
        "naive", producer.counts.accepted, finished - started, lost, lost == 0, rates, consumer.invocations,
        consumer.seconds, counter.requests, counter.billed, dead,
    )  # fmt: skip


def _depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def enqueue_load(stack: LocalStack, threads: int, seconds: float) -> dict[str, LoadFigures]:
    """The API with arrays of 100 and the naive producer, the writer runtime stopped (SQS and the API alone).

    The naive producer gets a fresh queue: moto's SQS slows down as a queue grows (BENCHMARKS.md).
    """
    assert stack.provisioned is not None and stack.runtime is not None
    stack.runtime.stop()
    sample = generate(20 * ARRAY, children=2000, seed=1)
    bodies = [json.dumps(sample[i : i + ARRAY]).encode() for i in range(0, len(sample), ARRAY)]
    api = closed_loop(threads, seconds, api_call(stack.api_url, stack.config.api_key, bodies, ARRAY, threads))
    sqs = stack.client("sqs", config=Config(max_pool_connections=threads, retries={"total_max_attempts": 1}))
    url = sqs.create_queue(QueueName="nicelist-bench-naive-load")["QueueUrl"]
    naive_load = closed_loop(threads, seconds, send_message_call(sqs, url, sample))
    return {"nicelist": api, "naive": naive_load}
