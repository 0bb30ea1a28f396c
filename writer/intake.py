"""Intake: SQS records to deliveries, whatever the records hold.

A body is parsed by the contract (``contract.updates.parse_body``), which promises ``InvalidBody`` for
anything it cannot use. Should any body ever break that promise (a bug, a parser's limit nobody
foresaw), that one message still goes to the DLQ with a reason and its neighbours go on: a body never
fails its batch. The attributes the writer reads (receive count, its own counters) are read the same
way: a value that is not a plain decimal number counts as absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from contract.updates import InvalidBody, LocationUpdate, ParsedBody, StatusUpdate, parse_body
from writer.defer import DEFERRALS_ATTRIBUTE, STALLED_ATTRIBUTE, Delivery
from writer.dlq import PARSER_FAILED, UNREADABLE

_DECIMAL = re.compile(r"[0-9]{1,9}")  # ASCII digits only ("²".isdigit() is True), and no absurd counts


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A body the writer cannot use, and why (for the DLQ's ``nicelist-error``)."""

    reason: str
    kind: str = UNREADABLE


def read_body(body: str, **limits: Any) -> ParsedBody | Unreadable:
    """The body's updates, or why it is unusable; never raises for any body."""
    try:
        return parse_body(body, **limits)
    except InvalidBody as error:
        return Unreadable(str(error))
    except Exception as error:
        # must not fail its batch (the whole batch would come back and its valid neighbours follow it
        # to the DLQ after maxReceiveCount). It is dead-lettered, unchanged, with this reason.
        return Unreadable(f"body could not be parsed ({type(error).__name__})", PARSER_FAILED)


def count(values: Mapping[str, Any] | None, name: str, key: str | None = None) -> int | None:
    """A non-negative count from Lambda's record shapes, or None when absent or not a plain number.

    ``key`` reads a message attribute (``{"stringValue": "3", "dataType": "Number"}``); without it,
    a system attribute (``{"ApproximateReceiveCount": "3"}``).
    """
    if not isinstance(values, Mapping):
        return None
    value = values.get(name)
    if key is not None:
        value = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return int(value)
    return None


def delivery(record: SQSRecord, updates: list[StatusUpdate | LocationUpdate]) -> Delivery:
    """One message as delivered. Events built by hand may lack attributes Lambda always sends: a missing
    or malformed receive count is a first delivery, a missing or malformed counter is 0."""
    raw = record.raw_event
    attributes = raw.get("messageAttributes")
    received = count(raw.get("attributes"), "ApproximateReceiveCount")
    return Delivery(
        message_id=record.message_id,
        updates=updates,
        receive_count=max(1, received or 1),
        deferrals=count(attributes, DEFERRALS_ATTRIBUTE, "stringValue") or 0,
        stalled=count(attributes, STALLED_ATTRIBUTE, "stringValue") or 0,
    )
