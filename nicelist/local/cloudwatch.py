"""The metrics AWS would publish for the local stack, put into the embedded AWS (docs/design.md, "The local stack").

moto has CloudWatch's API but no service publishes into it. ``StackMetrics.tick()`` does, once a
second, with ``put_metric_data`` at one-second resolution, in AWS's namespaces and dimensions so that
``status``, the alarms and anything else reading CloudWatch read the same names locally and on AWS:

- ``AWS/SQS`` (``QueueName``), each queue and DLQ of the stack's stages: ``ApproximateNumberOfMessages
  Visible``, ``...NotVisible``, ``...Delayed`` from ``GetQueueAttributes`` every tick;
  ``ApproximateAgeOfOldestMessage`` when the queue is empty (0) or for the writers' queue
  (``nicelist.local.queue_age``); ``NumberOfMessagesReceived`` / ``NumberOfMessagesDeleted`` of the
  writers' queue as the runtime's pollers made them. ``NumberOfMessagesSent`` is not published
  (nothing local sees every send).
- ``AWS/DynamoDB`` (``TableName``), every table the meter knows: ``ConsumedWriteCapacityUnits`` and
  ``WriteThrottleEvents`` (throttled requests) of each complete second with write requests, from the
  meter's per-second ledger, stamped with that second; ``ProvisionedWriteCapacityUnits`` every tick.
- ``AWS/Lambda`` (``FunctionName``), the writer: ``Invocations``, ``Errors`` (failed invocations:
  exceptions, timeouts, crashed executions, and invalid batch responses, which Lambda counts as
  successes) and ``Throttles`` as the runtime counted them in the tick, when any is non-zero;
  ``ConcurrentExecutions`` (invocations in flight at the tick) every tick. ``Duration`` is not
  published (the runtime does not time invocations; the writer's ``BatchDuration`` EMF metric does).
- ``nicelist`` and any other namespace of the writer's EMF documents in ``writer.log``
  (``nicelist.local.emf``), as CloudWatch Logs extracts them on AWS.

moto keeps every datapoint in memory for the life of the stack; idle, a tick adds about 20.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from nicelist.local import emf
from nicelist.local.queue_age import QueueAgeTracker
from nicelist.local.stats import StatsSnapshot

LOG = logging.getLogger(__name__)
PUT_LIMIT = 500  # entries per PutMetricData (AWS allows 1,000 and 1 MB)
METER_WINDOW_SECONDS = 30
_DEPTHS = {
    "ApproximateNumberOfMessages": "ApproximateNumberOfMessagesVisible",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
}
Datum = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WatchedQueue:
    name: str
    url: str
    tracker: QueueAgeTracker | None = None  # the queue the writer runtime polls


def _datum(name: str, value: float, dimension: tuple[str, str], at: dt.datetime, unit: str = "Count") -> Datum:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
        "Timestamp": at,
        "Value": float(value),
        "Unit": unit,
        "StorageResolution": 1,
    }


class MetricSink:
    """``put_metric_data`` in chunks, one namespace per call."""

    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch
        self.published = 0

    def put(self, namespace: str, data: Sequence[Datum]) -> None:
        for start in range(0, len(data), PUT_LIMIT):
            self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=list(data[start : start + PUT_LIMIT]))
        self.published += len(data)


class EmfTail:
    """New complete lines of a log file since the last read, each at most ``emf.MAX_LINE_CHARS``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = path.stat().st_size if path.exists() else 0
        self._partial = b""

    def read(self) -> list[tuple[str, Datum]]:
        if not self.path.exists():
            return []
        if self.path.stat().st_size < self._offset:  # replaced: start again
            self._offset, self._partial = 0, b""
        with self.path.open("rb") as stream:
            stream.seek(self._offset)
            data = stream.read(16 * emf.MAX_LINE_CHARS)
            self._offset = stream.tell()
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > emf.MAX_LINE_CHARS * 4:  # a line too long to be a document: drop its start
            self._partial = b""
        found: list[tuple[str, Datum]] = []
        for line in lines:
            if len(line) <= emf.MAX_LINE_CHARS * 4:
                found += emf.parse_line(line.decode("utf-8", "replace"))
        return found


class StackMetrics:
    """One ``tick()`` publishes what happened since the last one; see the module docstring."""

    def __init__(
        self,
        sink: MetricSink,
        sqs: Any,
        queues: Sequence[WatchedQueue],
        *,
        meter_url: str | None = None,
        function_name: str | None = None,
        runtime_stats: Callable[[], StatsSnapshot | None] | None = None,
        emf_log: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sink, self._sqs, self._queues, self._clock = sink, sqs, list(queues), clock
        self._meter_url, self._function, self._runtime_stats = meter_url, function_name, runtime_stats
        self._emf = EmfTail(emf_log) if emf_log is not None else None
        self._published_second: dict[str, int] = {}
        self._last_stats: StatsSnapshot | None = None
        self._tracker_counts: dict[str, tuple[int, int]] = {}

    def tick(self) -> None:
        now = self._clock()
        at = dt.datetime.fromtimestamp(math.floor(now), dt.UTC)
        by_namespace: dict[str, list[Datum]] = {"AWS/SQS": self._queue_data(now, at)}
        by_namespace["AWS/DynamoDB"] = self._table_data(now, at)
        by_namespace["AWS/Lambda"] = self._function_data(at)
        for namespace, datum in self._emf.read() if self._emf is not None else []:
            by_namespace.setdefault(namespace, []).append(datum)
        for namespace, data in by_namespace.items():
            if data:
                self._sink.put(namespace, data)

    def _queue_data(self, now: float, at: dt.datetime) -> list[Datum]:
        data: list[Datum] = []
        for queue in self._queues:
            try:
                attributes = self._sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=list(_DEPTHS))
            except (BotoCoreError, ClientError) as error:  # a missing queue or a moto hiccup skips one tick
                LOG.debug("no attributes for %s: %s", queue.name, error)
                continue
            counts = {name: int(attributes["Attributes"].get(key, 0)) for key, name in _DEPTHS.items()}
            dimension = ("QueueName", queue.name)
            data += [_datum(name, value, dimension, at) for name, value in counts.items()]
            visible, in_flight, delayed = counts.values()
            age: float | None = 0.0 if visible + in_flight + delayed == 0 else None
            if queue.tracker is not None:
                age = queue.tracker.age(now, visible, in_flight, delayed)
                data += self._receipts(queue, at)
            if age is not None:
                data.append(_datum("ApproximateAgeOfOldestMessage", round(age, 3), dimension, at, "Seconds"))
        return data

    def _receipts(self, queue: WatchedQueue, at: dt.datetime) -> list[Datum]:
        assert queue.tracker is not None
        counts = (queue.tracker.received, queue.tracker.deleted)
        before = self._tracker_counts.get(queue.name, (0, 0))
        self._tracker_counts[queue.name] = counts
        received, deleted = counts[0] - before[0], counts[1] - before[1]
        if not received and not deleted:
            return []
        dimension = ("QueueName", queue.name)
        return [
            _datum("NumberOfMessagesReceived", received, dimension, at),
            _datum("NumberOfMessagesDeleted", deleted, dimension, at),
        ]

    def _table_data(self, now: float, at: dt.datetime) -> list[Datum]:
        tables = _meter_tables(self._meter_url) if self._meter_url else {}
        data: list[Datum] = []
        for table, stats in tables.items():
            dimension = ("TableName", table)
            if isinstance(stats.get("capacity"), int | float):
                data.append(_datum("ProvisionedWriteCapacityUnits", stats["capacity"], dimension, at))
            last = self._published_second.get(table, -1)
            for second in stats.get("series", []):
                number = second.get("second")
                if not isinstance(number, int) or number <= last or number >= math.floor(now):
                    continue  # published already, or not over yet
                self._published_second[table] = number
                if not second.get("requests"):
                    continue
                when = dt.datetime.fromtimestamp(number, dt.UTC)
                data.append(_datum("ConsumedWriteCapacityUnits", second.get("units", 0), dimension, when))
                data.append(_datum("WriteThrottleEvents", second.get("throttle_events", 0), dimension, when))
        return data

    def _function_data(self, at: dt.datetime) -> list[Datum]:
        snapshot = self._runtime_stats() if self._runtime_stats is not None else None
        if snapshot is None or self._function is None:
            return []
        before, self._last_stats = self._last_stats or StatsSnapshot(), snapshot
        dimension = ("FunctionName", self._function)
        data = [_datum("ConcurrentExecutions", snapshot.in_flight, dimension, at)]
        counts = {
            "Invocations": snapshot.invocations - before.invocations,
            "Errors": snapshot.batch_failures - before.batch_failures,
            "Throttles": snapshot.throttled_invocations - before.throttled_invocations,
        }
        if any(counts.values()):
            data += [_datum(name, value, dimension, at) for name, value in counts.items()]
        return data


def _meter_tables(meter_url: str) -> dict[str, dict[str, Any]]:
    url = f"{meter_url.rstrip('/')}/_meter/stats?seconds={METER_WINDOW_SECONDS}"
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:  # noqa: S310 - the stack's own meter
            stats = json.loads(response.read())
    except (OSError, ValueError) as error:
        LOG.debug("meter unreadable: %s", error)
        return {}
    tables = stats.get("tables") if isinstance(stats, dict) else None
    return {str(k): v for k, v in tables.items() if isinstance(v, dict)} if isinstance(tables, dict) else {}
