"""Which part of a message is deferred, and when: the rule that keeps progress without rework."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.updates import parse_update
from writer.defer import MAX_BODY_BYTES, MAX_STALLED, AnyUpdate, Delivery, Step, _envelopes, next_step, remainder
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


def delivered(receive_count: int, stalled: int = 0) -> Delivery:
    return Delivery("m-1", [STATUS, FIX], receive_count=receive_count, deferrals=0, stalled=stalled)


@pytest.mark.parametrize(
    ("left", "receive_count", "failing", "stalled", "expected"),
    [
        ([FIX], 1, False, 0, Step.DEFER),  # progress: defer the rest, do not rewrite what is done
        ([FIX], 1, True, 9, Step.DEFER),  # progress, even after failures: defer (and reset the count)
        ([STATUS, FIX], 1, False, 0, Step.RETURN),  # no progress: the contract's way, a batch item failure
        ([STATUS, FIX], 3, True, 0, Step.RETURN),
        ([STATUS, FIX], 4, False, 0, Step.DEFER),  # the next failure would dead-letter it: a delay is deferred
        ([STATUS, FIX], 4, False, 99, Step.DEFER),  # ... however long the throttling lasts
        ([STATUS, FIX], 5, False, 99, Step.DEFER),
        ([STATUS, FIX], 4, True, MAX_STALLED - 1, Step.DEFER),  # failing writes get MAX_STALLED rounds
        ([STATUS, FIX], 4, True, MAX_STALLED, Step.GIVE_UP),  # ... then the writer dead-letters them
        ([], 4, True, 9, Step.DONE),  # nothing left: done
    ],
)
def test_the_next_step(left: list[AnyUpdate], receive_count: int, failing: bool, stalled: int, expected: Step) -> None:
    assert next_step(delivered(receive_count, stalled), left, failing, max_receive_count=5) is expected


@given(
    receive_count=st.integers(1, 10_000),
    stalled=st.integers(0, 10_000),
    left=st.sampled_from([[STATUS], [FIX], [STATUS, FIX]]),
)
def test_throttling_alone_never_gives_up(receive_count: int, stalled: int, left: list[AnyUpdate]) -> None:
    # however many deliveries and stalled rounds, a message held back only by throttling or the budget
    # is returned or deferred, never dead-lettered
    step = next_step(delivered(receive_count, stalled), left, failing=False, max_receive_count=5)
    assert step in {Step.RETURN, Step.DEFER}


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
