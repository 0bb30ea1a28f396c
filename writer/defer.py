"""Deferral: the unwritten remainder of a message goes back to the queue as a message of its own.

Returning a partly written message whole would make its next delivery spend budget again on what is
already in the table (a stale conditional write still costs a write unit), and a message bigger than
one invocation's budget would then never finish and climb to the DLQ for throttling alone. So when the
deadline leaves part of a message unwritten, the writer sends exactly that part to the queue as a new
envelope and only then lets the original be deleted. A message with no progress at all is returned as
a batch item failure instead (the contract's way), unless this is its last delivery before the redrive
policy would dead-letter it (``next_step``). Nothing is deleted before SQS has confirmed the remainder.

Throttling and a spent budget are a delay, never a reason for the DLQ, however long they last; writes
that fail with server or connection errors are counted (``nicelist-stalled``) and, after
``MAX_STALLED`` rounds of deliveries in a row, the writer dead-letters the updates itself, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.envelope import compact, pack_texts, seal
from contract.keys import Key
from contract.names import LazyQueueUrl
from contract.sqs import SQS_BATCH_BYTES, attribute_bytes, batches
from contract.updates import LocationUpdate, StatusUpdate, encode_update, table_keys
from writer.table import Outcome

AnyUpdate = StatusUpdate | LocationUpdate
DEFERRED_FROM_ATTRIBUTE = "nicelist-deferred-from"
DEFERRALS_ATTRIBUTE = "nicelist-deferrals"
STALLED_ATTRIBUTE = "nicelist-stalled"  # deferrals in a row that made no progress
MAX_STALLED = 3
MAX_BODY_BYTES = 900_000  # below SQS's 1 MiB, with room for attributes
MAX_BATCH_BYTES = SQS_BATCH_BYTES - 16 * 1024  # one call's bodies and attributes, with room to spare


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as delivered: its valid updates, how often SQS delivered it, how often it was deferred."""

    message_id: str
    updates: list[AnyUpdate]
    receive_count: int
    deferrals: int
    stalled: int = 0


def verdict(
    update: AnyUpdate,
    key: Key,
    outcomes: Mapping[Key, Outcome],
    winners: Mapping[Key, str],
) -> Outcome | None:
    """The outcome of ``key`` for this update. A rejection belongs to the update that was written (the
    coalesced winner); an older update that shared the key was not written, not rejected."""
    outcome = outcomes.get(key)
    if outcome is Outcome.REJECTED and winners.get(key, update.revision) != update.revision:
        return Outcome.NOT_WRITTEN
    return outcome


@dataclass(frozen=True, slots=True)
class Split:
    """The updates of one delivery by what became of their writes."""

    rejected: list[AnyUpdate]  # refused by the table: to the DLQ
    left: list[AnyUpdate]  # not yet written
    failing: bool  # some left write failed with a server or connection error (not throttling, not budget)


def split(delivery: Delivery, outcomes: Mapping[Key, Outcome], winners: Mapping[Key, str]) -> Split:
    rejected, left, failing = [], [], False
    for update in delivery.updates:
        verdicts = [verdict(update, key, outcomes, winners) for key in table_keys(update)]
        if Outcome.REJECTED in verdicts:
            rejected.append(update)
        elif Outcome.NOT_WRITTEN in verdicts or Outcome.FAILED in verdicts:
            left.append(update)
            failing = failing or Outcome.FAILED in verdicts
    return Split(rejected, left, failing)


def remainder(delivery: Delivery, outcomes: Mapping[Key, Outcome]) -> list[AnyUpdate]:
    """The updates of ``delivery`` whose writes (state, and track point for a fix) are not all done."""
    return split(delivery, outcomes, {}).left


class Step(Enum):
    DONE = "done"  # nothing left
    DEFER = "defer"  # send the remainder as a new message, delete this one
    RETURN = "return"  # a batch item failure: SQS delivers it again after a backoff
    GIVE_UP = "give_up"  # writes kept failing for MAX_STALLED rounds: the writer dead-letters the rest


def next_step(delivery: Delivery, left: list[AnyUpdate], failing: bool, max_receive_count: int) -> Step:
    """What to do with a message whose writes are not all done.

    Part written: defer (no rework). Nothing written and not yet the last delivery before SQS's redrive:
    return it. On that last delivery: defer when only throttling or the budget held it back (a delay
    never reaches the DLQ); when writes failed, defer at most ``MAX_STALLED`` rounds in a row, then give up.
    """
    if not left:
        return Step.DONE
    if len(left) < len(delivery.updates):
        return Step.DEFER
    if delivery.receive_count < max_receive_count - 1:
        return Step.RETURN
    if not failing or delivery.stalled < MAX_STALLED:
        return Step.DEFER
    return Step.GIVE_UP


@dataclass(frozen=True, slots=True)
class Remainder:
    """The unwritten part of one delivered message, to be sent to the queue as a message of its own."""

    delivery: Delivery
    left: list[AnyUpdate]
    failing: bool = False  # writes failed with server or connection errors (not throttling)


@dataclass(slots=True)
class Sent:
    """What ``Deferrals.send`` achieved: the messages whose whole remainder SQS confirmed, and why the
    others were not (each of those stays in the queue and comes back)."""

    deferred: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)


class Deferrals:
    """Sends remainders to the stage's queue; resolves its URL once from the name when not configured."""

    def __init__(self, sqs: Any, queue_url: LazyQueueUrl) -> None:
        self._sqs = sqs
        self._url = queue_url

    @property
    def url(self) -> str:
        return self._url()

    def send(self, remainders: Sequence[Remainder], has_time: Callable[[int], bool] = lambda _: True) -> Sent:
        """Every remainder's envelopes in as few ``SendMessageBatch`` calls as SQS allows (10 entries,
        1 MiB), call ``i`` (from 0) made only while ``has_time(i)``. A message counts as deferred only when SQS
        confirmed every envelope of its remainder; an envelope sent for a message that is then returned
        anyway is a duplicate the table's conditional writes absorb, never a loss."""
        entries: list[tuple[str, dict[str, Any]]] = []
        for index, remainder in enumerate(remainders):
            attributes = _attributes(remainder)
            for part, body in enumerate(_envelopes(remainder.left)):
                entry = {"Id": f"{index}-{part}", "MessageBody": body, "MessageAttributes": attributes}
                entries.append((remainder.delivery.message_id, entry))
        sent = Sent()
        for index, call in enumerate(batches(entries, _entry_bytes, max_bytes=MAX_BATCH_BYTES)):
            owners = {entry["Id"]: message_id for message_id, entry in call}
            if not has_time(index):
                sent.refused.update(dict.fromkeys(owners.values(), "no time left for the SQS call"))
                continue
            try:
                response = self._sqs.send_message_batch(QueueUrl=self.url, Entries=[entry for _, entry in call])
            except (ClientError, BotoCoreError) as error:
                sent.refused.update(dict.fromkeys(owners.values(), f"not enqueued: {error}"))
                continue
            confirmed = {ok.get("Id") for ok in response.get("Successful", [])}
            codes = {bad.get("Id"): str(bad.get("Code", "Failed")) for bad in response.get("Failed", [])}
            for entry_id, message_id in owners.items():
                if entry_id not in confirmed:
                    sent.refused.setdefault(
                        message_id, f"SQS refused the remainder: {codes.get(entry_id, 'no answer')}"
                    )
        sent.deferred = {r.delivery.message_id for r in remainders} - sent.refused.keys()
        return sent


def _attributes(remainder: Remainder) -> dict[str, dict[str, str]]:
    """``nicelist-stalled`` counts rounds without progress in which writes failed; progress resets it,
    throttling keeps it."""
    delivery = remainder.delivery
    progressed = len(remainder.left) < len(delivery.updates)
    stalled = 0 if progressed else delivery.stalled + int(remainder.failing)
    return {
        DEFERRED_FROM_ATTRIBUTE: {"DataType": "String", "StringValue": delivery.message_id},
        DEFERRALS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(delivery.deferrals + 1)},
        STALLED_ATTRIBUTE: {"DataType": "Number", "StringValue": str(stalled)},
    }


def _entry_bytes(owned: tuple[str, dict[str, Any]]) -> int:
    entry = owned[1]
    return len(entry["MessageBody"].encode()) + attribute_bytes(entry["MessageAttributes"])


def _envelopes(updates: list[AnyUpdate]) -> list[str]:
    """Pack into envelopes under ``MAX_BODY_BYTES`` (a remainder is at most its original, but normalized
    timestamps are a few bytes longer than what some producers send)."""
    texts = [compact(encode_update(update)) for update in updates]
    return [seal(texts[i] for i in group) for group in pack_texts(texts, MAX_BODY_BYTES)]
