"""The queue's ``ApproximateAgeOfOldestMessage`` without receiving a message (docs/design.md, "The local stack").

Receiving to peek (visibility 0) would count a receive on every message and push valid updates
towards the DLQ, and moto's ``/moto-api/data.json`` serialises its whole state. So the age comes
from what the writer runtime's pollers see, through botocore event hooks on their SQS client
(``QueueAgeTracker.attach``): each ``ReceiveMessage`` answer (``MessageId``, ``SentTimestamp``,
receipt handle) and each ``DeleteMessageBatch`` that succeeded.

The estimate, given the queue's counts from ``GetQueueAttributes``:

- queue empty (visible + in flight + delayed = 0): 0, and everything tracked is forgotten;
- every message received and not deleted (in flight, returned, or visible again after its timeout):
  its own age, exact (``now - SentTimestamp``);
- visible messages never received: ``now - frontier``, where the frontier is the newest
  ``SentTimestamp`` received, or the last time the queue was seen empty if later. moto hands out
  visible messages oldest first, so every message not yet received was sent after the frontier: this
  is an upper bound, too high by at most the gap between the frontier and the next message sent;
- the age is the greatest of these.

A tracked message that is not received again within ``forget_after`` seconds of its last receive (the
queue's visibility timeout plus a margin) has left the queue some other way (SQS's redrive to the DLQ,
a delete by another client) and is forgotten. Not emulated: SQS's rule that a message received three
times or more moves to the back of the metric (its age stops counting), and delayed messages sent
with ``DelaySeconds`` (nothing of nicelist sends them) are only bounded by the frontier.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class _Seen:
    sent: float
    last_received: float
    handle: str


class QueueAgeTracker:
    """What the pollers received and have not deleted; thread-safe (every poller shares one client)."""

    def __init__(self, started: float, forget_after: float) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, _Seen] = {}
        self._by_handle: dict[str, str] = {}
        self._frontier = started  # the queue was empty when the stack created it
        self._forget_after = forget_after
        self.received = 0
        self.deleted = 0

    # -- what the pollers see ---------------------------------------------------------------------
    def attach(self, client: Any, clock: Any) -> None:
        """Hook the runtime's SQS client: every receive and every confirmed batch delete."""
        events = client.meta.events
        events.register("after-call.sqs.ReceiveMessage", lambda parsed, **_: self._received(parsed, clock()))
        events.register("before-parameter-build.sqs.DeleteMessageBatch", _remember_entries)
        events.register(
            "after-call.sqs.DeleteMessageBatch", lambda parsed, context, **_: self._deleted(parsed, context)
        )

    def received_messages(self, messages: list[dict[str, Any]], now: float) -> None:
        with self._lock:
            for message in messages:
                sent = _seconds(message.get("Attributes", {}).get("SentTimestamp"))
                message_id, handle = message.get("MessageId"), message.get("ReceiptHandle")
                if sent is None or not isinstance(message_id, str) or not isinstance(handle, str):
                    continue
                old = self._seen.get(message_id)
                if old is not None:
                    self._by_handle.pop(old.handle, None)
                self._seen[message_id] = _Seen(sent, now, handle)
                self._by_handle[handle] = message_id
                self._frontier = max(self._frontier, sent)
                self.received += 1

    def deleted_handles(self, handles: list[str]) -> None:
        with self._lock:
            for handle in handles:
                message_id = self._by_handle.pop(handle, None)
                if message_id is not None:
                    self._seen.pop(message_id, None)
                    self.deleted += 1

    def _received(self, parsed: dict[str, Any], now: float) -> None:
        self.received_messages(list(parsed.get("Messages") or []), now)

    def _deleted(self, parsed: dict[str, Any], context: dict[str, Any]) -> None:
        entries = {entry.get("Id"): entry.get("ReceiptHandle") for entry in context.get("nicelist_entries", [])}
        done = [entries.get(item.get("Id")) for item in parsed.get("Successful") or []]
        self.deleted_handles([handle for handle in done if isinstance(handle, str)])

    # -- the estimate -----------------------------------------------------------------------------
    def age(self, now: float, visible: int, in_flight: int, delayed: int) -> float:
        """The oldest message's age in seconds by the rules of the module docstring."""
        with self._lock:
            if visible + in_flight + delayed == 0:
                self._seen.clear()
                self._by_handle.clear()
                self._frontier = max(self._frontier, now)
                return 0.0
            for message_id, seen in list(self._seen.items()):
                if now - seen.last_received > self._forget_after:
                    del self._seen[message_id]
                    self._by_handle.pop(seen.handle, None)
            ages = [now - seen.sent for seen in self._seen.values()]
            if visible + delayed > 0 or not ages:
                ages.append(now - self._frontier)
            return max(0.0, *ages)

    @property
    def tracked(self) -> int:
        with self._lock:
            return len(self._seen)


def _remember_entries(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["nicelist_entries"] = list(params.get("Entries") or [])


def _seconds(millis: Any) -> float | None:
    """SQS's ``SentTimestamp``: epoch milliseconds as a decimal string."""
    if not isinstance(millis, str) or not millis.isdigit() or len(millis) > 15:
        return None
    return int(millis) / 1000
