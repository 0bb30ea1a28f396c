"""Send the story through the enqueue API at the scheduled pace, as producers would.

Valid updates go in JSON arrays (what a busy producer does); each invalid one goes alone, so
the API's all-or-nothing rule rejects only it. A 503 is retried after its ``Retry-After``, as
the SDK does. Every update ends as accepted (202) or rejected (4xx): the demo counts both.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import urllib3

from contract.updates import InvalidUpdate, LocationUpdate, StatusUpdate, parse_update
from nicelist.demo.workload import Phase

TICK = 0.1  # seconds between pacing decisions
MAX_ARRAY = 100  # updates per request, at most


@dataclass(slots=True)
class SendCounts:
    """Thread-safe tallies, plus the accepted updates themselves (the demo's expected state)."""

    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    retried: int = 0
    failed: int = 0  # neither accepted nor rejected after retries (the producer was told "no")
    per_second: dict[int, int] = field(default_factory=dict)  # epoch second -> updates accepted
    accepted_updates: list[StatusUpdate | LocationUpdate] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, second: int, updates: Sequence[dict[str, Any]], status: int) -> None:
        with self._lock:
            self.sent += len(updates)
            if status == 202:
                self.accepted += len(updates)
                self.per_second[second] = self.per_second.get(second, 0) + len(updates)
                self.accepted_updates.extend(parse_update(u) for u in updates)
            elif 400 <= status < 500:
                self.rejected += len(updates)
            else:
                self.failed += len(updates)

    def retry(self) -> None:
        with self._lock:
            self.retried += 1


class ApiSender:
    """Posts arrays to ``POST /v1/updates`` from a small thread pool, paced by the story."""

    def __init__(self, api_url: str, api_key: str, threads: int = 8, clock: Callable[[], float] = time.monotonic):
        self._url = f"{api_url}/v1/updates"
        self._headers = {"content-type": "application/json", "x-api-key": api_key}
        self._http = urllib3.PoolManager(maxsize=threads, retries=False, timeout=urllib3.Timeout(30))
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="send")
        self._clock = clock
        self.counts = SendCounts()
        self.started = clock()

    def run(self, phases: Sequence[Phase], updates: Sequence[dict[str, Any]], stop: threading.Event) -> None:
        """Send every update on schedule; returns when all requests have been answered."""
        self.started = self._clock()
        cursor = 0
        phase_start = self.started
        for phase in phases:
            chunk = updates[cursor : cursor + phase.updates]
            cursor += phase.updates
            self._pace(chunk, phase.rate, phase_start, stop)
            phase_start += phase.seconds
        self._pool.shutdown(wait=True)

    def _pace(self, chunk: Sequence[dict[str, Any]], rate: float, start: float, stop: threading.Event) -> None:
        done = 0
        while done < len(chunk) and not stop.is_set():
            due = min(len(chunk), int((self._clock() - start) * rate) + 1)
            while done < due:
                batch = list(chunk[done : min(due, done + MAX_ARRAY)])
                done += len(batch)
                self._submit(batch)
            time.sleep(TICK)

    def _submit(self, batch: list[dict[str, Any]]) -> None:
        valid, invalid = [], []
        for update in batch:
            try:
                parse_update(update)
                valid.append(update)
            except InvalidUpdate:
                invalid.append(update)
        if valid:
            self._pool.submit(self._post, valid)
        for update in invalid:  # alone, so all-or-nothing rejects only the bad one
            self._pool.submit(self._post, [update])

    def _post(self, updates: list[dict[str, Any]]) -> None:
        body = json.dumps(updates).encode()
        status = 0
        for _attempt in range(5):
            try:
                response = self._http.request("POST", self._url, body=body, headers=self._headers)
            except urllib3.exceptions.HTTPError:
                self.counts.retry()
                time.sleep(0.5)
                continue
            status = response.status
            if status != 503:
                break
            self.counts.retry()
            time.sleep(float(response.headers.get("retry-after", "1")))
        self.counts.record(int(time.time()), updates, status)
