"""Watch the stack once a second: queue depth and age, DLQ depth, and the meter's view of the table."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3


@dataclass(frozen=True, slots=True)
class Sample:
    second: int  # epoch second
    queued: int  # messages visible + in flight
    in_flight: int
    dlq: int
    backlog_age: float  # seconds since the queue was last empty (an upper bound on the oldest message's age)
    backlog_updates: int | None = None  # updates accepted and not yet settled by a writer (None: unknown)


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


class WriterProgress:
    """Updates the writers have settled, read from their "batch done" log lines as they are appended.

    Counting messages misleads: deferral turns one message into several, so a message backlog can
    grow after the spike has ended. An update is settled when its batch wrote it, found it stale or
    dead-lettered it: ``updates - deferred - returned_updates`` of each batch (a deferred or returned
    update is delivered again and counted then).
    """

    def __init__(self, log_path: Path | None) -> None:
        self._path = log_path
        self._offset = log_path.stat().st_size if log_path is not None and log_path.exists() else 0
        self._partial = b""
        self.settled = 0

    def read(self) -> int | None:
        if self._path is None or not self._path.exists():
            return None
        with self._path.open("rb") as log:
            log.seek(self._offset)
            data = self._partial + log.read()
            self._offset = log.tell()
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            self.settled += settled_in(line)
        return self.settled


def settled_in(line: bytes) -> int:
    """The updates one log line says a batch settled (0 for any other line)."""
    if b'"batch done"' not in line:
        return 0
    try:
        entry = json.loads(line)
    except ValueError:
        return 0
    if not isinstance(entry, dict) or entry.get("message") != "batch done":
        return 0
    counts = [entry.get(key, 0) for key in ("updates", "deferred", "returned_updates")]
    if not all(isinstance(c, int) for c in counts):
        return 0
    return int(counts[0] - counts[1] - counts[2])


class Monitor:
    """A background thread sampling SQS once a second into a ``Timeline``."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        dlq_url: str,
        interval: float = 1.0,
        accepted: Callable[[], int] | None = None,
        progress: WriterProgress | None = None,
    ) -> None:
        self._accepted = accepted
        self._progress = progress
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
        backlog = None
        settled = self._progress.read() if self._progress is not None else None
        if settled is not None and self._accepted is not None:
            backlog = max(0, self._accepted() - settled)
        return Sample(int(now), visible + in_flight, in_flight, dlq, round(now - self._empty_since, 1), backlog)

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
