"""Returned messages come back on a backoff, not after the whole visibility timeout.

A message reported as a batch item failure would reappear only when its visibility timeout ends
(six times the writer's timeout: minutes). The writer instead sets its visibility to a jittered
backoff that doubles with its receive count, bounded by ``cap`` (never longer than the queue's own
visibility timeout), so a short throttle costs seconds, a long one backs off, and a sick table is not
hammered. If SQS refuses the change, nothing is lost: the message comes back at the full timeout.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.names import LazyQueueUrl
from contract.sqs import SQS_BATCH_ENTRIES
from writer.observability import logger

MAX_VISIBILITY_SECONDS = 43_200  # SQS's own ceiling (12 h)


def return_delay(receive_count: int, rng: random.Random, base: float, cap: float) -> int:
    """Seconds until a returned message is visible again: between half and all of
    ``min(cap, base x 2^(receive_count - 1))``, at least 1 (SQS takes whole seconds)."""
    ceiling = min(cap, base * 2 ** min(max(0, receive_count - 1), 30), MAX_VISIBILITY_SECONDS)
    return max(1, int(rng.uniform(ceiling / 2, ceiling)))


@dataclass(frozen=True, slots=True)
class Return:
    """One message handed back to SQS, and how long it should stay invisible."""

    message_id: str
    receipt_handle: str
    seconds: int


class Returns:
    """Sets the visibility of returned messages on the stage's queue (``ChangeMessageVisibilityBatch``)."""

    def __init__(self, sqs: Any, queue_url: LazyQueueUrl) -> None:
        self._sqs = sqs
        self._url = queue_url

    def back_off(self, returns: Sequence[Return], has_time: Callable[[], bool] = lambda: True) -> int:
        """Apply the delays, ten to a call, each call made only while ``has_time()``; the number SQS
        confirmed (the others come back at the full visibility timeout)."""
        confirmed = 0
        for start in range(0, len(returns), SQS_BATCH_ENTRIES):
            if not has_time():
                break
            chunk = returns[start : start + SQS_BATCH_ENTRIES]
            entries = [
                {"Id": str(i), "ReceiptHandle": r.receipt_handle, "VisibilityTimeout": r.seconds}
                for i, r in enumerate(chunk)
            ]
            try:
                response = self._sqs.change_message_visibility_batch(QueueUrl=self._url(), Entries=entries)
            except (ClientError, BotoCoreError) as error:
                logger.warning("visibility not changed; the messages return at the full timeout", error=str(error))
                continue
            confirmed += len(response.get("Successful", []))
        return confirmed
