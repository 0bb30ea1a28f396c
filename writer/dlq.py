"""Dead letters the writer sends itself: input that will never become valid, with the reason attached.

Retrying bad input only delays its neighbours, so it goes to the DLQ at once. The body is kept
verbatim (a bare update) or as an envelope of just the rejected updates, and the reason rides
in the ``nicelist-error`` message attribute, so ``nicelist dlq peek`` can show why without
reading children's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.envelope import encode_envelope
from contract.names import LazyQueueUrl
from contract.updates import Rejected

ERROR_ATTRIBUTE = "nicelist-error"
SOURCE_ATTRIBUTE = "nicelist-source-message-id"
MAX_REASON_CHARS = 4000


class DeadLetterError(Exception):
    """The DLQ did not take the message: the source message must stay in the queue."""


class DeadLetters:
    """Sends to the DLQ; resolves its URL once from the stage's name when not configured."""

    def __init__(self, sqs: Any, dlq_url: str = "", dlq_name: str = "") -> None:
        self._sqs = sqs
        self._url = LazyQueueUrl(sqs, dlq_url, dlq_name)

    @property
    def url(self) -> str:
        return self._url()

    def send_body(self, body: str, reason: str, source_message_id: str) -> None:
        """A whole message that is not a valid update or envelope, body unchanged."""
        self._send(body, reason, source_message_id)

    def send_rejected(self, rejected: Sequence[Rejected], source_message_id: str) -> None:
        """The invalid updates of an envelope, as an envelope of their own, reasons by index."""
        body = encode_envelope(r.raw for r in rejected)
        self._send(body, "; ".join(r.reason for r in rejected), source_message_id)

    def _send(self, body: str, reason: str, source_message_id: str) -> None:
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[: MAX_REASON_CHARS - 20] + " …(truncated)"
        try:
            self._sqs.send_message(
                QueueUrl=self.url,
                MessageBody=body,
                MessageAttributes={
                    ERROR_ATTRIBUTE: {"DataType": "String", "StringValue": reason},
                    SOURCE_ATTRIBUTE: {"DataType": "String", "StringValue": source_message_id},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise DeadLetterError(f"DLQ send failed: {error}") from error
