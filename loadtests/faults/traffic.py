"""Producers for the fault suite: the SDK's HTTP transport against the enqueue API, and raw SQS senders.

What counts as *acknowledged* is what the system said yes to: a 202 from the API (the SDK's
``HttpTransport`` retries 503s, honouring ``Retry-After``, until its deadline), or a message id from
SQS for a body sent straight to the queue. Every update handed over is also kept as *attempted*:
an update the API refused with a 503 may still have reached SQS and be written, and the
reconciliation must not call that newer state a loss.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from contract.updates import LocationUpdate, StatusUpdate, parse_update
from producers.exceptions import SendFailed
from producers.packing import to_item
from producers.retry import RetryPolicy
from producers.synthetic import generate
from producers.transport import HttpTransport, Timing

AnyUpdate = StatusUpdate | LocationUpdate
TICK = 0.05


def workload(count: int, children: int, seed: int) -> list[dict[str, Any]]:
    """Valid synthetic updates (the edge's 4xx paths are the demo's subject, not the fault suite's)."""
    return generate(count, children=children, seed=seed, invalid=0)


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP exchange with the API, as the producer saw it."""

    started: float  # epoch seconds
    seconds: float
    status: int | None  # None: no answer (connection error, timeout)
    retry_after: str | None = None
    error: str = ""


@dataclass(slots=True)
class Tally:
    """Thread-safe: what was handed over, what was acknowledged, every answer."""

    attempted: list[AnyUpdate] = field(default_factory=list)
    acknowledged: list[AnyUpdate] = field(default_factory=list)
    refused: int = 0  # updates the producer gave up on (SendFailed)
    answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def handed(self, updates: Sequence[AnyUpdate], *, acknowledged: bool) -> None:
        with self._lock:
            self.attempted.extend(updates)
            if acknowledged:
                self.acknowledged.extend(updates)
            else:
                self.refused += len(updates)

    def answer(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def answers_between(self, start: float, end: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if start <= a.started < end]

    def statuses(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(label(a) for a in self.answers))


def label(answer: Answer) -> str:
    if answer.status is None:
        return f"no answer ({answer.error})"
    if answer.status == 503:
        return "503 with Retry-After" if answer.retry_after else "503 without Retry-After"
    return str(answer.status)


class ApiProducer:
    """Posts arrays through the SDK's ``HttpTransport`` from a thread pool, paced at ``rate`` updates/s."""

    def __init__(self, api_url: str, api_key: str, tally: Tally, *, deadline: float, threads: int = 8) -> None:
        self._url, self._key, self.tally = api_url, api_key, tally
        self._policy = RetryPolicy(base_delay=0.2, max_delay=2.0, deadline_seconds=deadline)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="producer")

    def send(self, updates: Sequence[dict[str, Any]], rate: float, array: int) -> None:
        """Submit every update on schedule, in arrays of ``array``; returns when all are answered."""
        started = time.monotonic()
        done = 0
        while done < len(updates):
            due = min(len(updates), int((time.monotonic() - started) * rate) + 1)
            while done < due:
                chunk = list(updates[done : done + array])
                done += len(chunk)
                self._pool.submit(self._post, chunk)
            time.sleep(TICK)
        self._pool.shutdown(wait=True)

    def _post(self, chunk: list[dict[str, Any]]) -> None:
        transport = HttpTransport(self._url, self._key, timeout=10.0, timing=Timing(self._policy), opener=self._open)
        items = [to_item(update) for update in chunk]
        try:
            transport.send(items)
        except SendFailed:
            self.tally.handed([item.update for item in items], acknowledged=False)
            return
        self.tally.handed([item.update for item in items], acknowledged=True)

    def _open(self, request: urllib.request.Request, timeout: float) -> Any:
        """``urlopen``, recording every answer (the transport decides what to retry)."""
        started, clock = time.time(), time.monotonic()
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            self.tally.answer(Answer(started, time.monotonic() - clock, error.code, error.headers.get("Retry-After")))
            raise
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            self.tally.answer(Answer(started, time.monotonic() - clock, None, error=type(reason).__name__))
            raise
        self.tally.answer(Answer(started, time.monotonic() - clock, int(response.status)))
        return response


def send_bodies(sqs: Any, queue_url: str, bodies: Sequence[str], threads: int = 4) -> list[str]:
    """Send raw bodies straight to a queue (as a careless producer would); their message ids, in order.

    Bodies go ten to a ``SendMessageBatch`` while the batch stays under 1 MiB, big ones alone.
    """
    groups: list[list[int]] = []
    size = 0
    for index, body in enumerate(bodies):
        length = len(body.encode())
        if not groups or len(groups[-1]) == 10 or size + length > 900_000:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += length
    ids: list[str] = [""] * len(bodies)

    def send(group: list[int]) -> None:
        if len(group) == 1:
            ids[group[0]] = sqs.send_message(QueueUrl=queue_url, MessageBody=bodies[group[0]])["MessageId"]
            return
        entries = [{"Id": str(i), "MessageBody": bodies[i]} for i in group]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused {len(response['Failed'])} bodies: {response['Failed'][:1]}")
        for entry in response["Successful"]:
            ids[int(entry["Id"])] = entry["MessageId"]

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sqs-send") as pool:
        list(pool.map(send, groups))
    return ids


def parsed(updates: Sequence[dict[str, Any]]) -> list[AnyUpdate]:
    return [parse_update(update) for update in updates]
