"""The queue, as aggregated flows: cohorts of messages that arrived together, taken in arrival order.

Rules (Amazon SQS Developer Guide):

- A standard queue delivers "at least once" in "best-effort ordering" ("Amazon SQS standard
  queues"): the model takes the oldest cohort first, so the oldest update's age it reports is the
  best case of a real queue, not the worst.
- ReceiveMessage returns at most 10 messages ("ReceiveMessage", MaxNumberOfMessages 1-10); the
  poller builds a batch from several receives (``nicelist.local.poller.gather``).
- A received message is invisible for the visibility timeout ("Amazon SQS visibility timeout") and
  its ``ApproximateReceiveCount`` grows by one; after ``maxReceiveCount`` receives the redrive policy
  moves it to the dead-letter queue ("Using dead-letter queues in Amazon SQS").
- Messages are kept for the retention period (``nicelist provision`` sets 4 days): an update older
  than that is deleted by SQS ("MessageRetentionPeriod"), which is what "breaks" first if the backlog
  ever gets that old.

A message the writer returns (no progress) reappears after its backoff (``writer.returns.return_delay``,
the writer's own rule: half to all of min(cap, base x 2^(receives - 1)); the model takes the middle).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from contract.delivery import DEFAULT_MAX_RECEIVE_COUNT
from nicelist.provision import ProvisionOptions
from writer.returns import MAX_VISIBILITY_SECONDS

RECEIVE_MAX_MESSAGES = 10
RETENTION_SECONDS = ProvisionOptions().queue_retention  # what `nicelist provision` sets (4 days)
IN_FLIGHT_LIMIT = 120_000  # "Amazon SQS message quotas": about 120,000 in-flight messages per standard queue


@dataclass(slots=True)
class Cohort:
    """``messages`` messages holding ``updates`` updates, the oldest of them arrived at ``born``."""

    born: float
    messages: float
    updates: float
    receives: int = 0
    visible_at: float = 0.0


def return_backoff(receive_count: int, base: float, cap: float) -> float:
    """Seconds until a returned message reappears: the middle of the writer's jittered backoff."""
    ceiling = min(cap, base * float(2 ** min(max(0, receive_count - 1), 30)), MAX_VISIBILITY_SECONDS)
    return 0.75 * ceiling


@dataclass(slots=True)
class Queue:
    """Visible and delayed cohorts, oldest first; counts what was dead-lettered by redrive."""

    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT
    visible: deque[Cohort] = field(default_factory=deque)
    delayed: list[Cohort] = field(default_factory=list)
    redriven_updates: float = 0.0
    visible_messages: float = 0.0
    _visible_updates: float = 0.0
    _delayed_updates: float = 0.0

    def arrive(self, now: float, messages: float, updates: float) -> None:
        if updates > 0:
            self.visible.append(Cohort(now, messages, updates))
            self._count(messages, updates)

    def _count(self, messages: float, updates: float) -> None:
        self.visible_messages = max(0.0, self.visible_messages + messages)
        self._visible_updates = max(0.0, self._visible_updates + updates)

    def put_back(self, cohort: Cohort, visible_at: float) -> None:
        """A deferred remainder (visible at once) or a returned batch (after its backoff)."""
        cohort.visible_at = visible_at
        if cohort.receives >= self.max_receive_count:
            self.redriven_updates += cohort.updates  # SQS's redrive: the writer defers before this
            return
        self.delayed.append(cohort)
        self._delayed_updates += cohort.updates

    def release(self, now: float) -> None:
        """Delayed cohorts whose time has come become visible again (in their age order)."""
        if not self.delayed:
            return
        due = [c for c in self.delayed if c.visible_at <= now]
        if due:
            self.delayed = [c for c in self.delayed if c.visible_at > now]
            self._delayed_updates = sum(c.updates for c in self.delayed)
            self._count(sum(c.messages for c in due), sum(c.updates for c in due))
            merged = sorted([*self.visible, *due], key=lambda c: c.born)
            self.visible = deque(merged)

    def take(self, messages: float) -> Cohort | None:
        """Up to ``messages`` messages from the oldest cohorts, as one cohort (a batch); None if empty."""
        if not self.visible:
            return None
        born, taken, updates, receives = self.visible[0].born, 0.0, 0.0, 0
        while self.visible and taken < messages - 1e-9:
            head = self.visible[0]
            part = min(head.messages, messages - taken)
            share = part / head.messages if head.messages else 1.0
            taken += part
            updates += head.updates * share
            receives = max(receives, head.receives)
            if share >= 1 - 1e-12:
                self.visible.popleft()
            else:
                head.messages -= part
                head.updates -= head.updates * share
        self._count(-taken, -updates)
        if not self.visible:
            self.visible_messages = self._visible_updates = 0.0
        return Cohort(born, taken, updates, receives + 1)

    def give_back(self, cohort: Cohort) -> None:
        """Undo ``take`` (the messages were not received after all): back at the head, uncounted."""
        cohort.receives -= 1
        self.visible.appendleft(cohort)
        self._count(cohort.messages, cohort.updates)

    @property
    def updates(self) -> float:
        return self._visible_updates + self._delayed_updates

    def oldest(self) -> float:
        """Arrival time of the oldest update still queued (visible or delayed); inf if none."""
        born = [self.visible[0].born] if self.visible else []
        born += [c.born for c in self.delayed]
        return min(born, default=math.inf)
