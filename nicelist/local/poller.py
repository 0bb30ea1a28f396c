"""Polling SQS the way the event source mapping does: gather a batch, delete what succeeded.

``gather`` implements the batching rules: SQS returns at most 10 messages per receive, so a batch is
built from several receives; with a window > 0 it waits until the batch is full or the window has
elapsed, with a window of 0 it returns as soon as one receive brought messages.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

LOG = logging.getLogger(__name__)
SQS_MAX_MESSAGES = 10
Message = dict[str, Any]
Receive = Callable[[int, int], list[Message]]


def gather(
    receive: Receive,
    *,
    batch_size: int,
    window_seconds: float,
    wait_time_seconds: int,
    should_stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Message]:
    """Up to ``batch_size`` messages; ``receive(max_messages, wait_seconds)`` is one ReceiveMessage."""
    batch: list[Message] = []
    deadline = clock() + window_seconds
    while len(batch) < batch_size and not should_stop():
        remaining = deadline - clock()
        if window_seconds > 0 and remaining <= 0:
            break
        wait = wait_time_seconds if window_seconds == 0 else min(wait_time_seconds, math.floor(remaining))
        received = receive(min(SQS_MAX_MESSAGES, batch_size - len(batch)), wait)
        batch.extend(received)
        if window_seconds == 0:
            break
        if not received and wait == 0:
            sleep(min(remaining, 0.05))
    return batch


class SqsQueue:
    """The three SQS calls the mapping makes, on one boto3 client (thread-safe)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.url = queue_url

    def arn(self) -> str:
        attributes = self._client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        arn: str = attributes["Attributes"]["QueueArn"]
        return arn

    def receive(self, max_messages: int, wait_seconds: int) -> list[Message]:
        response = self._client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[Message] = response.get("Messages", [])
        return messages

    def delete(self, messages: Sequence[Message]) -> int:
        """DeleteMessageBatch in chunks of 10; returns how many entries failed (they will reappear)."""
        failed = 0
        for start in range(0, len(messages), SQS_MAX_MESSAGES):
            chunk = messages[start : start + SQS_MAX_MESSAGES]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            response = self._client.delete_message_batch(QueueUrl=self.url, Entries=entries)
            for failure in response.get("Failed", []):
                LOG.warning("delete failed, the message will be delivered again: %s", failure)
                failed += 1
        return failed
