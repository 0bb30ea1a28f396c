"""Reconciliation after a fault: the table against every acknowledged update, and a census of the DLQ.

The demo's own check (``nicelist.demo.verify``: newest revision per register, every track point)
is the base. Two things are added for faults:

- An update the system did not acknowledge (a 503 after the retries) may still have reached SQS and
  be written. A register holding a *newer* revision than the newest acknowledged one is correct when
  that revision is one the producers handed over; it is counted apart, never as a loss.
- Items nobody sent (an unknown revision, a track point of no update) are counted as unexpected.

The DLQ census reads every dead letter, groups them by the writer's reason (``nicelist-error``) and
counts the *valid* updates inside: a valid update in the DLQ is one the table is missing.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from contract.keys import is_track, track_key
from contract.updates import LocationUpdate, StatusUpdate, parse_body
from nicelist.deadletters import release
from nicelist.demo.verify import Expected, compare, scan_table
from writer.dlq import ERROR_ATTRIBUTE, SOURCE_ATTRIBUTE
from writer.items import state_item, track_item

AnyUpdate = StatusUpdate | LocationUpdate
NO_REASON = "no reason (moved by SQS after maxReceiveCount)"


@dataclass(frozen=True, slots=True)
class Reconciliation:
    registers_expected: int
    registers_correct: int
    registers_newer_unacknowledged: int  # newer than acknowledged, from an update handed over: fine
    registers_missing: int
    registers_older: int  # an older (or unknown) revision where a newer one was acknowledged
    track_expected: int
    track_missing: int
    unexpected_items: int
    items_in_table: int

    @property
    def lost(self) -> int:
        return self.registers_missing + self.registers_older + self.track_missing

    @property
    def written(self) -> int:
        """Acknowledged observations the table shows (registers right, track points present)."""
        return self.registers_correct + self.registers_newer_unacknowledged + self.track_expected - self.track_missing

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lost": self.lost, "written": self.written}


def reconcile(
    acknowledged: Iterable[AnyUpdate], attempted: Iterable[AnyUpdate], items: dict[tuple[str, str], dict[str, Any]]
) -> Reconciliation:
    """Compare a full scan with what was acknowledged (and, for tolerance only, what was attempted)."""
    expected, possible = Expected(), Expected()
    expected.extend(acknowledged)
    possible.extend(expected.registers.values())
    known = {u.revision for u in attempted} | {u.revision for u in expected.registers.values()}
    possible.extend(u for u in attempted)
    verdict = compare(expected, items)
    newer = 0
    for key, update in expected.registers.items():
        rev = items.get(key, {}).get("rev", {}).get("S")
        if rev is not None and rev != update.revision and rev > update.revision and rev in known:
            newer += 1
    tracks = possible.track_points | expected.track_points
    unexpected = sum(
        1
        for key, item in items.items()
        if (is_track(key[1]) and key not in tracks)
        or (not is_track(key[1]) and item.get("rev", {}).get("S") not in known)
    )
    return Reconciliation(
        registers_expected=verdict.registers_expected,
        registers_correct=verdict.registers_correct,
        registers_newer_unacknowledged=newer,
        registers_missing=verdict.registers_missing,
        registers_older=verdict.registers_wrong - newer,
        track_expected=verdict.track_expected,
        track_missing=verdict.track_missing,
        unexpected_items=unexpected,
        items_in_table=len(items),
    )


def scan(dynamodb: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    return scan_table(dynamodb, table)


_VOLATILE = {"written_at"}


def item_mismatches(updates: Iterable[AnyUpdate], items: dict[tuple[str, str], dict[str, Any]]) -> int:
    """Registers and track points whose attributes differ from what the writer makes of the winning update.

    ``written_at`` is the writer's clock and differs by design; everything else must be identical to
    what ordered delivery of the same updates would leave.
    """
    expected = Expected()
    expected.extend(updates)
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for key, update in expected.registers.items():
        wanted[key] = state_item(update, "")
    for update in {u.revision: u for u in updates if isinstance(u, LocationUpdate)}.values():
        wanted[(update.child_id, track_key(update.revision))] = track_item(update, "", 30)
    mismatches = 0
    for key, item in wanted.items():
        stored = {k: v for k, v in items.get(key, {}).items() if k not in _VOLATILE}
        if stored != {k: v for k, v in item.items() if k not in _VOLATILE}:
            mismatches += 1
    return mismatches


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    reason: str | None
    source: str | None
    valid_updates: tuple[AnyUpdate, ...]
    receive_count: int
    digest: str  # of the body, to recognise a message SQS moved without the writer's reason


@dataclass(slots=True)
class Census:
    letters: list[DeadLetter] = field(default_factory=list)

    @property
    def by_reason(self) -> dict[str, int]:
        return dict(Counter(reason_category(letter.reason) for letter in self.letters).most_common())

    @property
    def valid_updates(self) -> list[AnyUpdate]:
        return [update for letter in self.letters for update in letter.valid_updates]

    @property
    def without_reason(self) -> int:
        return sum(1 for letter in self.letters if letter.reason is None)

    def sources(self) -> set[str]:
        return {letter.source for letter in self.letters if letter.source}

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": len(self.letters),
            "by_reason": self.by_reason,
            "without_reason": self.without_reason,
            "valid_updates": len(self.valid_updates),
        }


def census(sqs: Any, dlq_url: str, *, restore: bool = True) -> Census:
    """Read every dead letter; with ``restore`` make them visible again (a redrive may follow)."""
    letters: dict[str, DeadLetter] = {}
    handles: list[str] = []
    empty = 0
    while empty < 2:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=120,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        empty = 0 if messages else empty + 1
        for message in messages:
            handles.append(message["ReceiptHandle"])
            letters[message["MessageId"]] = _letter(message)
    if restore:
        release(sqs, dlq_url, list(handles))
    return Census(list(letters.values()))


def _letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("MessageAttributes", {})
    reason = attributes.get(ERROR_ATTRIBUTE, {}).get("StringValue")
    source = attributes.get(SOURCE_ATTRIBUTE, {}).get("StringValue")
    count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "0"))
    body = message["Body"]
    return DeadLetter(message["MessageId"], reason, source, tuple(valid_updates_of(body)), count, digest(body))


def digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def valid_updates_of(body: str) -> list[AnyUpdate]:
    """The valid updates a body carries (none for a body that is not an update or an envelope)."""
    try:
        return list(parse_body(body).updates)
    except (ValueError, RecursionError):
        return []


_CATEGORIES = (
    ("invalid update:", "invalid bare update"),
    ("body is not valid JSON", "body is not valid JSON"),
    ("body must be a JSON object", "body is not a JSON object"),
    ("body is neither", "neither an update nor an envelope"),
    ("unknown envelope version", "unknown envelope version"),
    ("envelope has unknown fields", "envelope has unknown fields"),
    ("envelope 'updates' must be", "envelope without updates"),
    ("DynamoDB rejected", "rejected by DynamoDB"),
    ("the whole message is kept", "invalid updates, whole message kept"),
)


def reason_category(reason: str | None) -> str:
    """The kind of a dead letter, from the writer's reason: its first clause, without the specifics."""
    if reason is None:
        return NO_REASON
    for prefix, category in _CATEGORIES:
        if reason.startswith(prefix):
            return category
    if re.match(r"^(\[\d+\]|update \[\d+\])", reason):
        return "invalid updates of an envelope"
    return reason.split(":")[0][:60]
