"""Closed-loop load for a few seconds: N threads, each sending as soon as its last call was answered.

The enqueue API (arrays of 100 over HTTP, urllib3) and the naive producer (boto3 ``SendMessage``
once per update) get the same threads and seconds; each call's latency is kept for p50/p99.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3
from botocore.exceptions import BotoCoreError, ClientError

Call = Callable[[int], int | None]  # (sequence number) -> updates accepted, or None for a failure


@dataclass(frozen=True, slots=True)
class LoadFigures:
    seconds: float
    calls: int
    errors: int
    updates: int
    p50_ms: float
    p99_ms: float

    @property
    def updates_per_s(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def closed_loop(threads: int, seconds: float, call: Call) -> LoadFigures:
    """Call ``call`` in a loop on each of ``threads`` threads until ``seconds`` have passed."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    updates, errors = [0] * threads, [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(k: int) -> None:
        i = k
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            accepted = call(i)
            if accepted is None:
                errors[k] += 1
            else:
                updates[k] += accepted
                latencies[k].append(time.perf_counter() - started)
            i += threads

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(k,), name=f"load-{k}") for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    flat = [value for per_thread in latencies for value in per_thread]
    return LoadFigures(
        seconds=time.perf_counter() - started,
        calls=len(flat) + sum(errors),
        errors=sum(errors),
        updates=sum(updates),
        p50_ms=round(1000 * percentile(flat, 0.50), 1),
        p99_ms=round(1000 * percentile(flat, 0.99), 1),
    )


def api_call(url: str, api_key: str, bodies: Sequence[bytes], per_body: int, threads: int) -> Call:
    """POST pre-encoded bodies to ``/v1/updates``; a 202 counts ``per_body`` updates."""
    http = urllib3.PoolManager(maxsize=threads, retries=False, timeout=urllib3.Timeout(30))
    headers = {"x-api-key": api_key, "content-type": "application/json"}

    def call(i: int) -> int | None:
        try:
            response = http.request("POST", f"{url}/v1/updates", body=bodies[i % len(bodies)], headers=headers)
        except urllib3.exceptions.HTTPError:
            return None
        return per_body if response.status == 202 else None

    return call


def send_message_call(sqs: Any, queue_url: str, updates: Sequence[dict[str, Any]]) -> Call:
    bodies = [json.dumps(update, separators=(",", ":")) for update in updates]

    def call(i: int) -> int | None:
        try:
            sqs.send_message(QueueUrl=queue_url, MessageBody=bodies[i % len(bodies)])
        except (ClientError, BotoCoreError):
            return None
        return 1

    return call
