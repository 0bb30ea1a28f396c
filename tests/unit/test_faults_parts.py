"""Pieces of the fault suite that need no stack: the poison it sends, the storm it makes, how it reconciles."""

from __future__ import annotations

import random
from typing import Any

from contract.keys import track_key
from contract.updates import parse_body, parse_update
from loadtests.faults import bodies, storm
from loadtests.faults.deliveries import DeliveryLog
from loadtests.faults.verify import reason_category, reconcile, valid_updates_of
from writer.items import state_item, track_item


def _status(child: str, second: int, status: str = "nice") -> Any:
    return parse_update(
        {"kind": "status", "child_id": child, "status": status, "observed_at": f"2026-12-23T18:00:{second:02d}Z"}
    )


def test_every_poison_fits_sqs_and_none_is_a_clean_message() -> None:
    poisons = bodies.generate(random.Random(1), ["c-000001", "c-000002"], rounds=2)
    assert {p.case for p in poisons} == set(bodies.CASES)
    for poison in poisons:
        assert len(poison.body.encode()) <= bodies.SQS_LIMIT
        try:
            parsed = parse_body(poison.body)
        except (ValueError, RecursionError):
            continue  # refused whole: what the writer dead-letters with the body
        assert parsed.rejected, poison.label  # an envelope: some of it must be invalid
        assert len(parsed.updates) == len(poison.valid)


def test_skipped_cases_are_left_out() -> None:
    poisons = bodies.generate(random.Random(1), ["c-1"], rounds=1, skip=frozenset({"deep-nesting", "huge"}))
    assert not {p.case for p in poisons} & {"deep-nesting", "huge"}


def test_a_storm_carries_every_update_the_planned_number_of_times_at_least() -> None:
    updates = [_status(f"c-{i}", i).model_dump(mode="json", exclude_none=True) for i in range(30)]
    plan = storm.Plan(unique=30, children=30, copies=3, bare_share=0.3, max_pack=5, resend_share=0.2)
    counts: dict[str, int] = {}
    for body in storm.storm(updates, plan, random.Random(2)):
        for update in parse_body(body).updates:
            counts[update.child_id] = counts.get(update.child_id, 0) + 1
    assert len(counts) == 30 and min(counts.values()) >= 3


def test_reconcile_tolerates_newer_state_from_an_unacknowledged_update_and_nothing_else() -> None:
    acknowledged, unacknowledged, stranger = _status("c-1", 1), _status("c-1", 2, "naughty"), _status("c-2", 3)
    items = {("c-1", "STATUS"): state_item(unacknowledged, "")}
    tolerant = reconcile([acknowledged], [acknowledged, unacknowledged], items)
    assert (tolerant.lost, tolerant.registers_newer_unacknowledged, tolerant.unexpected_items) == (0, 1, 0)
    strict = reconcile([acknowledged], [acknowledged], items)
    assert strict.lost == 1 and strict.unexpected_items == 1
    missing = reconcile([acknowledged, stranger], [acknowledged, stranger], {})
    assert missing.registers_missing == 2


def test_a_missing_track_point_is_a_loss() -> None:
    fix = parse_update(
        {"kind": "location", "child_id": "c-1", "lat": 1, "lon": 2, "observed_at": "2026-12-23T18:00:00Z"}
    )
    only_register = {("c-1", "LOCATION"): state_item(fix, "")}
    assert reconcile([fix], [fix], only_register).track_missing == 1
    both = {**only_register, ("c-1", track_key(fix.revision)): track_item(fix, "", 30)}
    assert reconcile([fix], [fix], both).lost == 0


def test_dead_letters_are_grouped_by_the_writers_reason() -> None:
    assert reason_category("body is not valid JSON: Expecting value at position 0") == "body is not valid JSON"
    assert reason_category("update [0] (was [3]): status: Input should be 'naughty' or 'nice'") == (
        "invalid updates of an envelope"
    )
    assert reason_category(None).startswith("no reason")
    assert valid_updates_of('{"v": 1, "updates": [') == []


def test_a_delivery_without_a_delete_then_another_is_a_redelivery() -> None:
    log = DeliveryLog()
    log._received({"Messages": [{"MessageId": "m", "ReceiptHandle": "h1"}]})
    log._received({"Messages": [{"MessageId": "m", "ReceiptHandle": "h2"}]})
    log._deleting({"Entries": [{"ReceiptHandle": "h2"}]})
    assert len(log.redeliveries()) == 1
    assert log.summary(visibility=30.0)["returned_sooner"] == 1
