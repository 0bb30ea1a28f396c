"""The writer handler under moto, fed SQS events the way Lambda builds them."""

from __future__ import annotations

import json

from contract.keys import is_track
from tests.support.events import envelope, lambda_context, location, sqs_event, sqs_record, status
from tests.support.writer import Stage
from writer.handler import handle


def test_valid_updates_are_written_and_the_response_is_empty(stage: Stage) -> None:
    # GIVEN a status and a location for one child, one bare and one packed
    event = sqs_event(
        status("c-1", "2026-12-23T18:04:05.123Z", "naughty", reason="ate the cookies early"),
        envelope(location("c-1", "2026-12-23T18:04:15+00:00", accuracy_m=12.5)),
    )
    # WHEN the writer processes the batch
    response = handle(event, lambda_context(), stage.deps())
    # THEN nothing is reported as failed and the table holds both registers and a track point
    assert response == {"batchItemFailures": []}
    items = stage.items("c-1")
    assert items["STATUS"]["status"] == {"S": "naughty"}
    assert items["STATUS"]["observed_at"] == {"S": "2026-12-23T18:04:05.123000Z"}
    assert items["LOCATION"]["lat"] == {"N": "51.5"}
    (track,) = [sk for sk in items if sk.startswith("LOC#2026-12-23T18:04:15.000000Z#")]
    assert items[track]["accuracy_m"] == {"N": "12.5"}
    assert int(items[track]["expires_at"]["N"]) > 0


def test_newest_observation_wins_across_batches_in_any_order(stage: Stage) -> None:
    deps = stage.deps()
    newer = status("c-2", "2026-12-23T18:00:01Z", "nice")
    older = status("c-2", "2026-12-23T18:00:00Z", "naughty")
    handle(sqs_event(newer), lambda_context(), deps)
    handle(sqs_event(older), lambda_context(), deps)
    assert stage.items("c-2")["STATUS"]["status"] == {"S": "nice"}


def test_a_batch_is_coalesced_to_the_newest_per_child(stage: Stage) -> None:
    updates = [location("c-3", f"2026-12-23T18:00:{s:02d}Z", lat=float(s)) for s in (5, 1, 9, 3)]
    handle(sqs_event(envelope(*updates)), lambda_context(), stage.deps())
    items = stage.items("c-3")
    assert items["LOCATION"]["lat"] == {"N": "9.0"}
    assert sum(1 for sk in items if is_track(sk)) == 4


def test_invalid_body_goes_to_the_dlq_unchanged_and_neighbours_are_written(stage: Stage) -> None:
    # GIVEN a batch with a malformed body between two valid ones
    bad = '{"kind": "status", "child_id": "c-4"'
    event = {"Records": [sqs_record(status("c-4", "2026-12-23T18:00:00Z")), sqs_record(bad, message_id="bad-1")]}
    # WHEN processed
    response = handle(event, lambda_context(), stage.deps())
    # THEN the bad message is done (in the DLQ, not retried) and the good one is written
    assert response == {"batchItemFailures": []}
    assert "STATUS" in stage.items("c-4")
    [dead] = stage.dlq_messages()
    assert dead["Body"] == bad
    assert "not valid JSON" in dead["MessageAttributes"]["nicelist-error"]["StringValue"]
    assert dead["MessageAttributes"]["nicelist-source-message-id"]["StringValue"] == "bad-1"


def test_invalid_updates_of_an_envelope_are_dead_lettered_with_reasons(stage: Stage) -> None:
    good = location("c-5", "2026-12-23T18:00:00Z")
    out_of_range = location("c-6", "2026-12-23T18:00:00Z", lat=91.0)
    naive = status("c-7", "2026-12-23T18:00:00")
    response = handle(sqs_event(envelope(good, out_of_range, naive)), lambda_context(), stage.deps())
    assert response == {"batchItemFailures": []}
    assert "LOCATION" in stage.items("c-5")
    assert stage.items("c-6") == {} and stage.items("c-7") == {}
    [dead] = stage.dlq_messages()
    assert json.loads(dead["Body"]) == envelope(out_of_range, naive)
    reason = dead["MessageAttributes"]["nicelist-error"]["StringValue"]
    assert "[1].lat" in reason and "[2].observed_at" in reason


def test_unknown_envelope_version_is_dead_lettered(stage: Stage) -> None:
    response = handle(sqs_event({"v": 2, "updates": []}), lambda_context(), stage.deps())
    assert response == {"batchItemFailures": []}
    [dead] = stage.dlq_messages()
    assert "unknown envelope version 2" in dead["MessageAttributes"]["nicelist-error"]["StringValue"]


def test_when_the_dlq_refuses_the_invalid_message_stays_in_the_queue(stage: Stage) -> None:
    deps = stage.deps(dlq_url="https://sqs.us-east-1.amazonaws.com/123456789012/missing")
    event = {"Records": [sqs_record("not json", message_id="m-1")]}
    assert handle(event, lambda_context(), deps) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_a_deadline_too_close_returns_every_message(stage: Stage) -> None:
    # GIVEN an invocation with less time left than the safety margin
    event = {"Records": [sqs_record(status("c-8", "2026-12-23T18:00:00Z"), message_id="m-8")]}
    response = handle(event, lambda_context(timeout_s=1.0), stage.deps(deadline_margin_ms=5000))
    # THEN nothing is written and the message is handed back, not dropped
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-8"}]}
    assert stage.items("c-8") == {}


def test_a_message_delivered_twice_in_one_batch_is_reported_once(stage: Stage) -> None:
    # GIVEN SQS putting the same (undeliverable-to-DLQ) message into one batch twice, beside a good one
    deps = stage.deps(dlq_url="https://sqs.us-east-1.amazonaws.com/123456789012/missing")
    twice = sqs_record("not json", message_id="m-1")
    event = {"Records": [twice, sqs_record(status("c-9", "2026-12-23T18:00:00Z"), message_id="m-2"), twice]}
    # THEN the response names it once, and the good message is not dragged into a whole-batch failure
    assert handle(event, lambda_context(), deps) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert "STATUS" in stage.items("c-9")


def test_a_record_without_sqs_attributes_is_processed_as_a_first_delivery(stage: Stage) -> None:
    record = sqs_record(status("c-10", "2026-12-23T18:00:00Z"))
    record["attributes"] = {}
    assert handle({"Records": [record]}, lambda_context(), stage.deps()) == {"batchItemFailures": []}
    assert "STATUS" in stage.items("c-10")
