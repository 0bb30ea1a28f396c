"""What a dead letter is, why it is there, and the SQS calls ``peek`` and ``redrive`` share.

The writer puts its reason in the ``nicelist-error`` attribute (``writer/dlq.py``). Some reasons say
the message can **never** be written, whatever is fixed: the body is not JSON, not an update, has an
unknown envelope version, an update breaks the contract (``contract/updates.py`` words all of these),
or DynamoDB itself refused the item. Redriving those only sends them round again. Every other dead
letter is worth moving back once the cause is fixed: the writer gave up after server or connection
errors ("the update itself is valid"), its parser broke (a bug, fixed by a deploy), or SQS moved it
after ``maxReceiveCount`` (no reason at all). An unknown reason is treated as redrivable: moving a
message once more costs one round through the writer, leaving it behind could cost an update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from writer.dlq import ERROR_ATTRIBUTE, GAVE_UP, INVALID, KIND_ATTRIBUTE, PARSER_FAILED, TABLE_REFUSED, UNREADABLE

__all__ = ["ERROR_ATTRIBUTE", "KIND_ATTRIBUTE", "Verdict", "classify", "receive", "release"]

# Reasons the writer gives for valid updates (writer/processor.py, writer/intake.py): checked first,
# so a dead letter that also names a bad update is still moved for the valid ones.
_REDRIVABLE = (
    ("writes failed with server or connection errors", "the writer gave up on server or connection errors"),
    ("body could not be parsed (", "the writer's parser failed (a bug, not the body)"),
)
# The contract's InvalidBody messages and the writer's reason for an item DynamoDB refused.
_NEVER = (
    ("body is not valid JSON", "body is not JSON"),
    ("body must be a JSON object", "body is not an update or envelope"),
    ("body is neither an update", "body is not an update or envelope"),
    ("envelope has unknown fields", "body is not an update or envelope"),
    ("envelope 'updates' must be", "body is not an update or envelope"),
    ("unknown envelope version", "unknown envelope version"),
    ("invalid update:", "invalid update"),
    ("DynamoDB rejected the write", "rejected by DynamoDB"),
)
# The rejected updates of an envelope: "update [0] (was [3]): lat: ...", or the whole body kept.
_REJECTED_UPDATE = re.compile(r"^(update \[\d+\] \(was \[\d+\]\)|the whole message is kept: update \[\d+\]): ")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a dead letter is worth moving back, and a short why (grouped in reports)."""

    redrivable: bool
    why: str


_KINDS = {
    UNREADABLE: Verdict(False, "body is not an update or envelope"),
    INVALID: Verdict(False, "invalid update"),
    TABLE_REFUSED: Verdict(False, "rejected by DynamoDB"),
    GAVE_UP: Verdict(True, "the writer gave up on server or connection errors"),
    PARSER_FAILED: Verdict(True, "the writer's parser failed (a bug, not the body)"),
}


def classify(reason: str | None, kind: str | None = None) -> Verdict:
    """The verdict on a dead letter: by its ``nicelist-error-kind`` when it has one (the writer sets it),
    else by the words of its ``nicelist-error`` reason (None: SQS moved it after ``maxReceiveCount``)."""
    by_words = _by_words(reason)
    if kind in _KINDS:  # the kind decides; the words, when they agree, say more precisely why
        by_kind = _KINDS[kind]
        return by_words if by_words.redrivable == by_kind.redrivable else by_kind
    return by_words


def _by_words(reason: str | None) -> Verdict:
    if not reason:
        return Verdict(True, "no reason: SQS moved it after maxReceiveCount")
    for marker, why in _REDRIVABLE:
        if marker in reason:
            return Verdict(True, why)
    for marker, why in _NEVER:
        if reason.startswith(marker) or f": {marker}" in reason[:200]:
            return Verdict(False, why)
    if _REJECTED_UPDATE.match(reason):
        return Verdict(False, "invalid update")
    return Verdict(True, "unrecognised reason")


def receive(sqs: Any, url: str, count: int, *, visibility: int, wait: int) -> list[dict[str, Any]]:
    """Up to ``count`` messages with every attribute, invisible for ``visibility`` seconds."""
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=count,
        VisibilityTimeout=visibility,
        WaitTimeSeconds=wait,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return list(response.get("Messages", []))


def release(sqs: Any, url: str, handles: list[str]) -> None:
    """Make received messages visible again at once (ten a call)."""
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
