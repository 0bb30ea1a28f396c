"""Dead letters the writer sends itself: input that will never become valid, with the reason attached.

Retrying bad input only delays its neighbours, so it goes to the DLQ at once. The body is kept
verbatim (a bare update) or as envelopes of just the rejected updates, and the reason rides in the
``nicelist-error`` message attribute, so ``nicelist dlq peek`` can show why without reading
children's data. Everything sent is sized to fit SQS (body and attributes together, see
``contract.delivery.MAX_MESSAGE_BYTES``) and its attribute values hold only characters SQS accepts,
so a rejected update reaches the DLQ with its reason on its first delivery, however it was spelt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.delivery import MAX_MESSAGE_BYTES
from contract.envelope import UpdateTooLarge, pack_texts, seal
from contract.names import LazyQueueUrl
from contract.updates import Rejected

ERROR_ATTRIBUTE = "nicelist-error"
# Why, for machines (``nicelist dlq redrive`` decides by it): the reason's words are for people.
KIND_ATTRIBUTE = "nicelist-error-kind"
UNREADABLE = "unreadable"  # not an update or envelope: never writable
INVALID = "invalid"  # updates that break the contract: never writable
TABLE_REFUSED = "table-refused"  # DynamoDB refused the item itself: never writable
GAVE_UP = "gave-up"  # valid updates whose writes kept failing: redrive once the table is healthy
PARSER_FAILED = "parser-failed"  # the writer's parser broke on it (a bug): redrive after the fix
NEVER_WRITABLE = frozenset({UNREADABLE, INVALID, TABLE_REFUSED})
SOURCE_ATTRIBUTE = "nicelist-source-message-id"
MAX_REASON_CHARS = 4000
# Room left in every dead letter for its attributes: names, types and a reason of MAX_REASON_CHARS
# characters of at most 4 UTF-8 bytes each, the source message id and the kind.
ATTRIBUTES_ALLOWANCE = 4 * MAX_REASON_CHARS + 1024
# What SQS accepts in a body or an attribute value: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF.
_NOT_FOR_SQS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

Deadline = Callable[[], bool]  # True while there is time for one more SQS call


class DeadLetterError(Exception):
    """The DLQ did not take the message: the source message must stay in the queue."""


def sqs_text(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` as an attribute value SQS accepts: foreign characters replaced, at most ``limit`` chars."""
    clean = _NOT_FOR_SQS.sub("\ufffd", text)
    return clean if len(clean) <= limit else clean[: limit - 14] + " …(truncated)"


def _ascii_json(value: Any) -> str:
    """Compact JSON with every non-ASCII character escaped: always valid in an SQS body, even for text
    that SQS could not carry raw (lone surrogates, U+FFFE), at the cost of up to 6 bytes a character."""
    return json.dumps(value, separators=(",", ":"))


class DeadLetters:
    """Sends to the DLQ; resolves its URL once from the stage's name when not configured."""

    def __init__(self, sqs: Any, dlq_url: str = "", dlq_name: str = "") -> None:
        self._sqs = sqs
        self._url = LazyQueueUrl(sqs, dlq_url, dlq_name)

    @property
    def url(self) -> str:
        return self._url()

    def send_body(self, body: str, reason: str, source_message_id: str, kind: str = UNREADABLE) -> None:
        """A whole message that is not a valid update or envelope, body unchanged."""
        self._send(body, reason, source_message_id, kind)

    def send_rejected(
        self, rejected: Sequence[Rejected], source_message_id: str, original_body: str, kind: str = INVALID
    ) -> None:
        """The invalid updates of an envelope, as envelopes of their own; each reason names the update by
        its index in the dead-lettered body (and in the original envelope).

        Re-encoding can make an update larger than it came (escaped non-ASCII text): one that no longer
        fits a message alone sends the original body instead, unchanged, with every reason.
        """
        texts = [_ascii_json(r.raw) for r in rejected]
        try:
            groups = pack_texts(texts, MAX_MESSAGE_BYTES - ATTRIBUTES_ALLOWANCE)
        except UpdateTooLarge:
            reasons = "; ".join(f"update [{r.index}]: {r.reason}" for r in rejected)
            self._send(original_body, f"the whole message is kept: {reasons}", source_message_id, kind)
            return
        for group in groups:
            reasons = "; ".join(_reason(k, rejected[i]) for k, i in enumerate(group))
            self._send(seal(texts[i] for i in group), reasons, source_message_id, kind)

    def _send(self, body: str, reason: str, source_message_id: str, kind: str) -> None:
        attributes = _fitted_attributes(len(body.encode()), sqs_text(reason), sqs_text(source_message_id, 256))
        attributes[KIND_ATTRIBUTE] = {"DataType": "String", "StringValue": kind}
        try:
            self._sqs.send_message(QueueUrl=self.url, MessageBody=body, MessageAttributes=attributes)
        except (ClientError, BotoCoreError) as error:
            raise DeadLetterError(f"DLQ send failed: {error}") from error


def attributes_size(attributes: dict[str, dict[str, str]]) -> int:
    """Bytes SQS counts for message attributes: each name, data type and value."""
    return sum(
        len(name.encode()) + len(value["DataType"].encode()) + len(value["StringValue"].encode())
        for name, value in attributes.items()
    )


def _fitted_attributes(body_bytes: int, reason: str, source: str) -> dict[str, dict[str, str]]:
    """The reason and source attributes, the reason shortened until body and attributes fit one message
    (an unchanged body that came near SQS's limit leaves less room for the reason)."""
    while True:
        attributes = {
            ERROR_ATTRIBUTE: {"DataType": "String", "StringValue": reason},
            SOURCE_ATTRIBUTE: {"DataType": "String", "StringValue": source},
        }
        # the kind attribute comes on top: at most 64 bytes
        if body_bytes + attributes_size(attributes) + 64 <= MAX_MESSAGE_BYTES or len(reason) <= 1:
            return attributes
        reason = reason[: len(reason) // 2] or "…"


def _reason(position: int, rejected: Rejected) -> str:
    """The reason of one dead-lettered update, by its index in the dead letter's own ``updates``."""
    return f"update [{position}] (was [{rejected.index}]): {rejected.reason}"
