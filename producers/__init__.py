"""What producers use: the SDK (``Producer``, ``send_packed``), the enqueue API and ``nicelist send``.

The API (``producers.api``) and the CLI are imported from their own modules so the SDK does
not pull in Flask or click.
"""

from __future__ import annotations

from producers.exceptions import ProducerClosed, ProducerError, SendFailed
from producers.retry import RetryPolicy
from producers.sdk import Producer, send_packed
from producers.settings import ProducerSettings, get_queue_url
from producers.transport import HttpTransport, SendStats, SqsTransport, Timing

__all__ = [
    "HttpTransport",
    "Producer",
    "ProducerClosed",
    "ProducerError",
    "ProducerSettings",
    "RetryPolicy",
    "SendFailed",
    "SendStats",
    "SqsTransport",
    "Timing",
    "get_queue_url",
    "send_packed",
]
