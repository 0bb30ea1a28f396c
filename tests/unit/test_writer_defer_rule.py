"""Which part of a message is deferred, and when: the rule that keeps progress without rework."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from contract.sqs import SQS_BATCH_BYTES, SQS_BATCH_ENTRIES, attribute_bytes
from contract.updates import parse_update
from writer.defer import (
    MAX_BODY_BYTES,
    MAX_STALLED,
    AnyUpdate,
    Deferrals,
    Delivery,
    Remainder,
    Step,
    _envelopes,
    next_step,
    remainder,
)
from writer.returns import Return, Returns
from writer.settings import deadline_margin_seconds
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


# --- sending remainders: batched calls, and a message counts as deferred only when all of it went ---------


class FakeSqs:
    """SendMessageBatch as SQS answers it: ``refuse`` entry ids fail, ``broken`` call numbers raise; the
    limits of a call (10 entries, 1 MiB with attributes) are checked on every call."""

    def __init__(self, refuse: set[str] = frozenset(), broken: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.calls: list[list[dict[str, Any]]] = []
        self.refuse, self.broken = refuse, broken

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        number = len(self.calls)
        self.calls.append(Entries)
        assert 1 <= len(Entries) <= SQS_BATCH_ENTRIES
        assert len({e["Id"] for e in Entries}) == len(Entries)
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,80}", e["Id"]) for e in Entries)
        total = sum(len(e["MessageBody"].encode()) + attribute_bytes(e["MessageAttributes"]) for e in Entries)
        assert total <= SQS_BATCH_BYTES
        if number in self.broken:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "down"}}, "SendMessageBatch")
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] not in self.refuse],
            "Failed": [
                {"Id": e["Id"], "Code": "InternalError", "SenderFault": False}
                for e in Entries
                if e["Id"] in self.refuse
            ],
        }


def remainders(sizes: list[int], reason: str = "") -> list[Remainder]:
    found = []
    for i, size in enumerate(sizes):
        updates = [
            parse_update(
                {
                    "kind": "status",
                    "child_id": f"c-{i}-{j}",
                    "status": "nice",
                    "observed_at": "2026-12-23T18:00:00Z",
                    "reason": reason,
                }
            )
            for j in range(size)
        ]
        found.append(Remainder(Delivery(f"m-{i}", [*updates, STATUS], receive_count=1, deferrals=0), updates))
    return found


def send(sqs: FakeSqs, sent: list[Remainder], has_time: Any = lambda _: True) -> Any:
    return Deferrals(sqs, lambda: "https://queue").send(sent, has_time=has_time)  # type: ignore[arg-type]


def test_remainders_go_ten_to_a_call_and_each_is_deferred_once_confirmed() -> None:
    sqs = FakeSqs()
    result = send(sqs, remainders([3] * 23))
    assert [len(call) for call in sqs.calls] == [10, 10, 3]
    assert result.deferred == {f"m-{i}" for i in range(23)} and result.refused == {}


def test_a_refused_entry_or_a_failed_call_keeps_exactly_its_messages_in_the_queue() -> None:
    sqs = FakeSqs(refuse={"4-0"}, broken={1})
    result = send(sqs, remainders([2] * 15))
    assert set(result.refused) == {"m-4"} | {f"m-{i}" for i in range(10, 15)}
    assert result.deferred == {f"m-{i}" for i in range(10)} - {"m-4"}
    assert "InternalError" in result.refused["m-4"]


def test_a_remainder_split_over_two_calls_is_deferred_only_when_both_went() -> None:
    # two remainders of ~700 kB each: three envelopes at most 900 kB, the calls at most 1 MiB
    big = remainders([2_000, 2_000], reason="é" * 90)
    sqs = FakeSqs()
    assert send(sqs, big).deferred == {"m-0", "m-1"}
    assert len(sqs.calls) >= 2
    owners = [[e["Id"].split("-")[0] for e in call] for call in sqs.calls]
    split = {"0", "1"} & {o for call in owners for o in call if sum(c.count(o) > 0 for c in owners) > 1}
    assert split  # some remainder spans calls
    for broken in range(len(sqs.calls)):
        in_call = {f"m-{o}" for o in owners[broken]}
        result = send(FakeSqs(broken={broken}), big)
        assert in_call <= set(result.refused) and not (in_call & result.deferred)


def test_calls_are_made_only_while_the_invocation_has_time_for_them() -> None:
    sqs = FakeSqs()
    result = send(sqs, remainders([1] * 25), has_time=lambda call: call < 2)
    assert len(sqs.calls) == 2
    assert result.deferred == {f"m-{i}" for i in range(20)}
    assert set(result.refused) == {f"m-{i}" for i in range(20, 25)}
    assert all("no time" in why for why in result.refused.values())


@given(st.lists(st.integers(1, 40), min_size=1, max_size=30), st.sets(st.integers(0, 5)))
def test_every_remainder_ends_deferred_or_refused_never_both(sizes: list[int], broken: set[int]) -> None:
    sent = remainders(sizes)
    result = send(FakeSqs(broken=broken), sent)
    ids = {r.delivery.message_id for r in sent}
    assert result.deferred | set(result.refused) == ids
    assert not (result.deferred & set(result.refused))


def test_the_margin_holds_the_worst_case_when_the_timeout_has_room_and_less_when_it_has_not() -> None:
    assert deadline_margin_seconds(60) == deadline_margin_seconds(30) == 9.5
    assert deadline_margin_seconds(19) == 9.5
    assert deadline_margin_seconds(10) == 5.0  # half of a short timeout
    assert deadline_margin_seconds(5) == 4.0  # at least one SQS call's reserve and a quick last write
    assert deadline_margin_seconds(30, margin_ms=2500) == 2.5  # a margin set lower is taken as it is


def test_backoffs_are_set_ten_to_a_call_each_call_only_while_there_is_time() -> None:
    calls: list[int] = []

    class Visibility:
        def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            calls.append(len(Entries))
            return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    returns = [Return(f"m-{i}", f"handle-{i}", 5) for i in range(25)]
    checks = iter([True, False, True])
    confirmed = Returns(Visibility(), lambda: "https://queue").back_off(returns, has_time=lambda: next(checks))  # type: ignore[arg-type]
    assert calls == [10] and confirmed == 10  # the second call had no time: it and the third are not made
    assert Returns(Visibility(), lambda: "https://queue").back_off(returns) == 25  # type: ignore[arg-type]
    assert calls == [10, 10, 10, 5]
