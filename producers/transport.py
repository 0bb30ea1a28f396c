"""Two ways to put packed updates on the queue: straight to SQS, or through the enqueue API.

Both confirm every update or raise ``SendFailed`` carrying exactly the unconfirmed ones.
"""

from __future__ import annotations

import json
import random as _random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from contract.envelope import DEFAULT_ENVELOPE_BYTES
from contract.sqs import SQS_BATCH_BYTES, SQS_BATCH_ENTRIES
from producers.exceptions import SendFailed
from producers.packing import Item, Message, batches, pack
from producers.retry import THROTTLING_CODES, Backoff, RetryPolicy, describe, is_retryable

RETRYABLE_HTTP = frozenset({429, 500, 502, 503, 504})


@dataclass(slots=True)
class SendStats:
    """What sending cost: updates and messages confirmed, requests made, retries."""

    updates: int = 0
    messages: int = 0
    requests: int = 0
    retries: int = 0

    def add(self, other: SendStats) -> None:
        self.updates += other.updates
        self.messages += other.messages
        self.requests += other.requests
        self.retries += other.retries


class Transport(Protocol):
    """Where a ``Producer`` sends its buffer. ``max_updates``/``max_bytes``: when a buffer is full.

    ``timeout`` shortens the retry deadline (the exit flush passes what is left of its bound).
    """

    max_updates: int
    max_bytes: int

    def send(self, items: Sequence[Item], *, timeout: float | None = None) -> SendStats: ...


@dataclass(slots=True)
class Timing:
    """Injected time and randomness, so tests drive retries with a fake clock."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    random: _random.Random = field(default_factory=_random.Random)

    def backoff(self, timeout: float | None = None) -> Backoff:
        """A retry sequence ending at the policy's deadline, or ``timeout`` seconds from now if sooner."""
        seconds = self.policy.deadline_seconds if timeout is None else min(timeout, self.policy.deadline_seconds)
        return Backoff(self.policy, self.clock, self.sleep, self.random, deadline=self.clock() + seconds)


class SqsTransport:
    """Envelopes of up to ``envelope_bytes``, ``SendMessageBatch`` of ≤ 10 entries and ≤ 1 MiB.

    Per-entry ``Failed`` results (the call itself answers 200) are retried like throttling,
    5xx and connection errors; entries SQS blames on the sender (``SenderFault`` and not a
    throttling code) will never pass and fail at once.
    """

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        envelope_bytes: int = DEFAULT_ENVELOPE_BYTES,
        max_updates_per_envelope: int = 1000,
        timing: Timing | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.envelope_bytes = envelope_bytes
        self.max_updates_per_envelope = max_updates_per_envelope
        self.timing = timing or Timing()
        self.max_bytes = min(SQS_BATCH_BYTES, SQS_BATCH_ENTRIES * envelope_bytes) * 9 // 10
        self.max_updates = SQS_BATCH_ENTRIES * max_updates_per_envelope

    def send(self, items: Sequence[Item], *, timeout: float | None = None) -> SendStats:
        stats = SendStats()
        messages = pack(items, self.envelope_bytes, self.max_updates_per_envelope)
        backoff = self.timing.backoff(timeout)
        unsent: list[tuple[Message, str]] = []
        for batch in batches(messages):
            unsent += self._send_batch(batch, backoff, stats)
        if unsent:
            updates = [update for message, _ in unsent for update in message.updates]
            raise SendFailed(updates, [reason for _, reason in unsent])
        return stats

    def _send_batch(self, batch: list[Message], backoff: Backoff, stats: SendStats) -> list[tuple[Message, str]]:
        pending = {str(index): message for index, message in enumerate(batch)}
        failed: list[tuple[Message, str]] = []
        while pending:
            stats.requests += 1
            try:
                response = self.sqs.send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": key, "MessageBody": m.body} for key, m in pending.items()],
                )
            except (ClientError, BotoCoreError, ConnectionError) as error:
                reason = describe(error)
                if not is_retryable(error):
                    return failed + [(message, reason) for message in pending.values()]
            else:
                reason = self._settle(response, pending, failed, stats)
            if pending and not backoff.wait():
                return failed + [(m, f"{reason} (gave up at the retry deadline)") for m in pending.values()]
            stats.retries += 1 if pending else 0
        return failed

    @staticmethod
    def _settle(
        response: dict[str, Any],
        pending: dict[str, Message],
        failed: list[tuple[Message, str]],
        stats: SendStats,
    ) -> str:
        """Remove confirmed and permanently failed entries from ``pending``; return the retry reason."""
        for entry in response.get("Successful", []):
            message = pending.pop(entry["Id"], None)
            if message is not None:
                stats.messages += 1
                stats.updates += len(message.items)
        reason = "entries neither confirmed nor failed"
        for entry in response.get("Failed", []):
            code = str(entry.get("Code", "Failed"))
            if entry.get("SenderFault") and code not in THROTTLING_CODES and entry["Id"] in pending:
                failed.append((pending.pop(entry["Id"]), f"SQS rejected the message: {code}"))
            else:
                reason = f"SQS failed entries: {code}"
        return reason


class HttpTransport:
    """``POST /v1/updates`` of JSON arrays (≤ 500 updates, ≤ the body limit) with ``x-api-key``.

    For producers without AWS credentials. 202 confirms; 429/5xx and connection errors are
    retried (honouring ``Retry-After``); any other answer will not get better and fails at once.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        max_updates_per_request: int = 500,
        max_body_bytes: int = 1024 * 1024,
        timeout: float = 10.0,
        timing: Timing | None = None,
        opener: Callable[..., Any] = urllib.request.urlopen,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/v1/updates"
        self.api_key = api_key
        self.max_updates = max_updates_per_request
        self.max_bytes = max_body_bytes
        self.timeout = timeout
        self.timing = timing or Timing()
        self.opener = opener

    def send(self, items: Sequence[Item], *, timeout: float | None = None) -> SendStats:
        stats = SendStats()
        backoff = self.timing.backoff(timeout)
        unsent: list[Item] = []
        reasons: list[str] = []
        for chunk in self._chunks(items):
            reason = self._post_chunk(chunk, backoff, stats)
            if reason is not None:
                unsent += chunk
                reasons.append(reason)
        if unsent:
            raise SendFailed([item.update for item in unsent], reasons)
        return stats

    def _chunks(self, items: Sequence[Item]) -> list[list[Item]]:
        chunks: list[list[Item]] = []
        size = 2
        for item in items:
            if not chunks or len(chunks[-1]) >= self.max_updates or size + item.size + 1 > self.max_bytes:
                chunks.append([])
                size = 2
            chunks[-1].append(item)
            size += item.size + 1
        return chunks

    def _post_chunk(self, chunk: list[Item], backoff: Backoff, stats: SendStats) -> str | None:
        """Send one array until confirmed; return None, or why it was given up."""
        body = ("[" + ",".join(item.text for item in chunk) + "]").encode()
        while True:
            stats.requests += 1
            status, retry_after, reason = self._post(body)
            if status == 202:
                stats.updates += len(chunk)
                stats.messages += 1
                return None
            if status is not None and status not in RETRYABLE_HTTP:
                return reason
            if not backoff.wait(retry_after):
                return f"{reason} (gave up at the retry deadline)"
            stats.retries += 1

    def _post(self, body: bytes) -> tuple[int | None, float, str]:
        request = urllib.request.Request(  # noqa: S310 (the URL is the operator's own API)
            self.endpoint,
            data=body,
            method="POST",
            headers={"content-type": "application/json", "x-api-key": self.api_key},
        )
        try:
            with self.opener(request, timeout=self.timeout) as response:
                return int(response.status), 0.0, f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            return error.code, _retry_after(error.headers.get("Retry-After")), _reason(error)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            return None, 0.0, f"cannot reach the API: {type(error).__name__}"


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def _reason(error: urllib.error.HTTPError) -> str:
    try:
        detail = json.loads(error.read() or b"{}")
    except (ValueError, OSError):
        detail = {}
    message = detail.get("message") if isinstance(detail, dict) else None
    return f"HTTP {error.code}" + (f": {message}" if message else "")
