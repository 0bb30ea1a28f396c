"""Which part of a message is deferred, and when: the rule that keeps progress without rework."""

from __future__ import annotations

import json

import pytest

from contract.updates import parse_update
from writer.defer import MAX_BODY_BYTES, Delivery, _envelopes, remainder, should_defer
from writer.table import Outcome

STATUS = parse_update({"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": "2026-12-23T18:00:00Z"})
FIX = parse_update(
    {"kind": "location", "child_id": "c-1", "lat": 1.0, "lon": 2.0, "observed_at": "2026-12-23T18:00:01Z"}
)
TRACK = ("c-1", f"LOC#{FIX.revision}")


def delivery(receive_count: int = 1) -> Delivery:
    return Delivery("m-1", [STATUS, FIX], receive_count=receive_count, deferrals=0)


def test_an_update_is_left_when_any_of_its_writes_is_not_done() -> None:
    done = {("c-1", "STATUS"): Outcome.WRITTEN, ("c-1", "LOCATION"): Outcome.STALE, TRACK: Outcome.NOT_WRITTEN}
    assert remainder(delivery(), done) == [FIX]


def test_nothing_is_left_when_every_write_is_written_or_superseded() -> None:
    done = {("c-1", "STATUS"): Outcome.STALE, ("c-1", "LOCATION"): Outcome.WRITTEN, TRACK: Outcome.WRITTEN}
    assert remainder(delivery(), done) == []


@pytest.mark.parametrize(
    ("left", "receive_count", "expected"),
    [
        ([FIX], 1, True),  # progress: defer the rest, do not rewrite what is done
        ([STATUS, FIX], 1, False),  # no progress: the contract's way, a batch item failure
        ([STATUS, FIX], 3, False),
        ([STATUS, FIX], 4, True),  # the next failure would dead-letter it for throttling alone
        ([], 4, False),  # nothing left: done
    ],
)
def test_when_to_defer(left: list[object], receive_count: int, expected: bool) -> None:
    assert should_defer(delivery(receive_count), left, max_receive_count=5) is expected  # type: ignore[arg-type]


def test_a_large_remainder_is_split_into_envelopes_sqs_accepts() -> None:
    update = parse_update(
        {
            "kind": "status",
            "child_id": "c-1",
            "status": "nice",
            "observed_at": "2026-12-23T18:00:00Z",
            "reason": "é" * 280,
        }
    )
    bodies = _envelopes([update] * 5000)
    assert len(bodies) > 1
    assert all(len(body.encode()) <= MAX_BODY_BYTES for body in bodies)
    assert sum(len(json.loads(body)["updates"]) for body in bodies) == 5000
