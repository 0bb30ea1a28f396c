"""Every receive and delete the writer runtime makes, timed, from botocore hooks on its SQS client.

A killed execution leaves its batch invisible until the visibility timeout expires; the only place
that shows how long that really took is the queue traffic itself: a delivery not followed by a
delete, then the same message delivered again. The runtime is not changed for this: the stack hands
its SQS client to ``attach`` before the runtime starts.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class _Message:
    received: list[float] = field(default_factory=list)
    deleted: list[float] = field(default_factory=list)


class DeliveryLog:
    """Thread-safe; ``attach(client)`` registers the hooks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, _Message] = {}
        self._handles: dict[str, str] = {}  # receipt handle -> message id

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("after-call.sqs.ReceiveMessage", self._received)
        events.register("provide-client-params.sqs.DeleteMessageBatch", self._deleting)

    def _received(self, parsed: dict[str, Any], **_: Any) -> None:
        now = time.time()
        with self._lock:
            for message in parsed.get("Messages", []):
                self._handles[message["ReceiptHandle"]] = message["MessageId"]
                self._messages.setdefault(message["MessageId"], _Message()).received.append(now)

    def _deleting(self, params: dict[str, Any], **_: Any) -> None:
        now = time.time()
        with self._lock:
            for entry in params.get("Entries", []):
                message_id = self._handles.pop(entry.get("ReceiptHandle", ""), None)
                if message_id is not None:
                    self._messages[message_id].deleted.append(now)

    def redeliveries(self) -> list[float]:
        """For every delivery that ended without a delete and was delivered again: seconds until then."""
        gaps = []
        with self._lock:
            for message in self._messages.values():
                for first, again in zip(message.received, message.received[1:], strict=False):
                    if not any(first <= deleted < again for deleted in message.deleted):
                        gaps.append(again - first)
        return gaps

    def summary(self, visibility: float) -> dict[str, Any]:
        """Redeliveries split by cause: after the visibility timeout (a failed invocation: a kill, a crash)
        or sooner (the writer returned the message on its own backoff)."""
        gaps = self.redeliveries()
        expired = [gap for gap in gaps if gap >= 0.9 * visibility]
        sooner = [gap for gap in gaps if gap < 0.9 * visibility]
        return {
            "after_visibility": len(expired),
            "after_visibility_s": _spread(expired),
            "returned_sooner": len(sooner),
            "returned_sooner_s": _spread(sooner),
        }


def _spread(gaps: list[float]) -> str:
    if not gaps:
        return "-"
    return f"{min(gaps):.1f} / {statistics.median(gaps):.1f} / {max(gaps):.1f}"
