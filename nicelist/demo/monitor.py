"""Watch the stack once a second: queue depth and age, DLQ depth, and the meter's view of the table."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import urllib3


@dataclass(frozen=True, slots=True)
class Sample:
    second: int  # epoch second
    queued: int  # messages visible + in flight
    in_flight: int
    dlq: int
    backlog_age: float  # seconds since the queue was last empty (an upper bound on the oldest message's age)


@dataclass(slots=True)
class Timeline:
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def latest(self) -> Sample | None:
        with self.lock:
            return self.samples[-1] if self.samples else None

    def snapshot(self) -> list[Sample]:
        with self.lock:
            return list(self.samples)


class MeterReader:
    """Reads the meter's per-second ledger for one table over HTTP."""

    def __init__(self, meter_url: str, table: str) -> None:
        self._url = f"{meter_url}/_meter/stats"
        self._table = table
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(5))

    def table_stats(self, last_seconds: int = 3600) -> dict[str, Any]:
        response = self._http.request("GET", self._url, fields={"seconds": str(last_seconds)})
        stats = json.loads(response.data)
        tables: dict[str, Any] = stats.get("tables", {})
        return dict(tables.get(self._table, {}))

    def capacity(self) -> float | None:
        value = self.table_stats(1).get("capacity")
        return float(value) if value is not None else None


class Monitor:
    """A background thread sampling SQS once a second into a ``Timeline``."""

    def __init__(self, sqs: Any, queue_url: str, dlq_url: str, interval: float = 1.0) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._dlq_url = dlq_url
        self._interval = interval
        self.timeline = Timeline()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._empty_since = time.time()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def drained(self) -> bool:
        """The queue is empty and nothing is in flight (two consecutive samples, to avoid a race)."""
        samples = self.timeline.snapshot()[-2:]
        return len(samples) == 2 and all(s.queued == 0 for s in samples)

    def sample(self) -> Sample:
        queue = self._attributes(self._queue_url)
        visible = int(queue["ApproximateNumberOfMessages"])
        in_flight = int(queue["ApproximateNumberOfMessagesNotVisible"])
        dlq = int(self._attributes(self._dlq_url)["ApproximateNumberOfMessages"])
        now = time.time()
        if visible + in_flight == 0:
            self._empty_since = now
        return Sample(int(now), visible + in_flight, in_flight, dlq, round(now - self._empty_since, 1))

    def _attributes(self, url: str) -> dict[str, str]:
        response = self._sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        return dict(response["Attributes"])

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            sample = self.sample()
            with self.timeline.lock:
                self.timeline.samples.append(sample)
            self._stop.wait(max(0.0, self._interval - (time.monotonic() - started)))
