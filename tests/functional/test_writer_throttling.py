"""Throttling, unprocessed items and errors, which moto never produces.

Emulated with botocore ``before-call`` hooks on the writer's own DynamoDB client: a hook either
answers in DynamoDB's place (an error, or a BatchWriteItem that leaves ``UnprocessedItems``,
having written the processed part through another client) or returns ``None`` to let the call
through to moto. Time is a fake clock that only moves when the writer sleeps, so backoff and
deadlines run instantly and exactly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from contract.keys import is_track, track_key
from contract.updates import parse_update
from tests.support.events import envelope, lambda_context, location, sqs_record, status
from tests.support.fakes import FakeTime, on_fake_time
from tests.support.writer import Stage
from writer.handler import handle

Answer = tuple[Any, dict[str, Any]] | None
Responder = Callable[[dict[str, Any]], Answer]
AT = "2026-12-23T18:00:{:02d}Z"


class Hooks:
    """Answers DynamoDB calls of the writer's client in moto's place when a responder says so."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: dict[str, list[dict[str, Any]]] = {}

    def on(self, operation: str, responder: Responder) -> list[dict[str, Any]]:
        calls = self.calls.setdefault(operation, [])

        def hook(params: dict[str, Any], **_: Any) -> Answer:
            request = json.loads(params["body"])
            calls.append(request)
            return responder(request)

        self.client.meta.events.register(f"before-call.dynamodb.{operation}", hook)
        return calls


def error(code: str, status_code: int = 400) -> Answer:
    body = {"Error": {"Code": code, "Message": f"emulated {code}"}}
    return SimpleNamespace(status_code=status_code, headers={}), {
        **body,
        "ResponseMetadata": {"HTTPStatusCode": status_code},
    }


def ok(parsed: dict[str, Any]) -> Answer:
    return SimpleNamespace(status_code=200, headers={}), {
        **parsed,
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }


def first_n(n: int, answer: Answer) -> Responder:
    """Answer the first ``n`` calls, let the rest through."""
    count = 0

    def respond(_: dict[str, Any]) -> Answer:
        nonlocal count
        count += 1
        return answer if count <= n else None

    return respond


def child_of(request: dict[str, Any]) -> str:
    return str(request["Item"]["child_id"]["S"])


def batch_keys(request: dict[str, Any]) -> set[tuple[str, str]]:
    [(_, writes)] = request["RequestItems"].items()
    return {(w["PutRequest"]["Item"]["child_id"]["S"], w["PutRequest"]["Item"]["sk"]["S"]) for w in writes}


def leave_unprocessed(stage: Stage, unprocessed: Callable[[tuple[str, str]], bool], times: int) -> Responder:
    """For the first ``times`` calls that carry a matching item, write the others and hand those back.

    Only calls with a matching item count, so the answer does not depend on which of the writer's
    threads reaches DynamoDB first.
    """
    count = 0
    lock = threading.Lock()

    def respond(request: dict[str, Any]) -> Answer:
        nonlocal count
        [(table, writes)] = request["RequestItems"].items()
        done: list[dict[str, Any]] = []
        left: list[dict[str, Any]] = []
        for write in writes:
            item = write["PutRequest"]["Item"]
            (left if unprocessed((item["child_id"]["S"], item["sk"]["S"])) else done).append(write)
        with lock:
            if not left or count >= times:
                return None
            count += 1
        if done:
            stage.dynamodb.batch_write_item(RequestItems={table: done})
        return ok({"UnprocessedItems": {table: left} if left else {}})

    return respond


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


def failures(response: Any) -> set[str]:
    return {entry["itemIdentifier"] for entry in response["batchItemFailures"]}


# --- PutItem (state registers) ----------------------------------------------------------------


def test_a_throttled_put_is_retried_with_backoff_and_written(stage: Stage, time: FakeTime) -> None:
    # GIVEN a table that throttles the first three PutItem calls
    deps = on_fake_time(stage.deps(), time)
    puts = Hooks(deps.dynamodb).on("PutItem", first_n(3, error("ProvisionedThroughputExceededException")))
    # WHEN one status is processed
    event = {"Records": [sqs_record(status("c-1", AT.format(1), "naughty"), message_id="m-1")]}
    response = handle(event, lambda_context(), deps)
    # THEN it is written on the fourth attempt after three growing, jittered waits
    assert response == {"batchItemFailures": []}
    assert len(puts) == 4
    assert stage.items("c-1")["STATUS"]["status"] == {"S": "naughty"}
    assert len(time.backoffs) == 3
    for attempt, delay in enumerate(time.backoffs):
        assert 0 <= delay <= min(deps.pacer.backoff_cap, deps.pacer.backoff_base * 2**attempt)
    # AND the throttles cut this execution's rate
    assert deps.pacer.fraction < 1.0
    assert deps.pacer.rate < deps.pacer.share


@pytest.mark.parametrize("code", ["ThrottlingException", "RequestLimitExceeded"])
def test_every_throttling_code_is_retried(stage: Stage, time: FakeTime, code: str) -> None:
    deps = on_fake_time(stage.deps(), time)
    Hooks(deps.dynamodb).on("PutItem", first_n(1, error(code)))
    event = {"Records": [sqs_record(status("c-1", AT.format(1)), message_id="m-1")]}
    assert handle(event, lambda_context(), deps) == {"batchItemFailures": []}
    assert "STATUS" in stage.items("c-1")


def test_throttling_until_the_deadline_hands_the_message_back(stage: Stage, time: FakeTime) -> None:
    # GIVEN one child whose writes are always throttled, next to one that is fine
    deps = on_fake_time(stage.deps(max_attempts=10_000), time)

    def throttle_c1(request: dict[str, Any]) -> Answer:
        return error("ProvisionedThroughputExceededException") if child_of(request) == "c-1" else None

    puts = Hooks(deps.dynamodb).on("PutItem", throttle_c1)
    event = {
        "Records": [
            sqs_record(status("c-1", AT.format(1)), message_id="m-1"),
            sqs_record(status("c-2", AT.format(1)), message_id="m-2"),
        ]
    }
    # WHEN processed with 20 s left and the default margin
    response = handle(event, lambda_context(timeout_s=20.0), deps)
    # THEN the throttled message comes back to the queue and its neighbour is written
    assert failures(response) == {"m-1"}
    assert stage.items("c-1") == {}
    assert "STATUS" in stage.items("c-2")
    # AND the writer kept trying until the deadline (not until max_attempts), never past it
    assert len([p for p in puts if child_of(p) == "c-1"]) > 8
    assert time.now <= 20.0 - deps.settings.deadline_margin_ms / 1000 + 1e-9
    # AND nothing went to the DLQ for throttling alone
    assert stage.dlq_messages() == []


def test_running_out_of_attempts_hands_the_message_back(stage: Stage, time: FakeTime) -> None:
    deps = on_fake_time(stage.deps(max_attempts=3), time)
    puts = Hooks(deps.dynamodb).on("PutItem", lambda _: error("ProvisionedThroughputExceededException"))
    event = {"Records": [sqs_record(status("c-1", AT.format(1)), message_id="m-1")]}
    assert failures(handle(event, lambda_context(), deps)) == {"m-1"}
    assert len(puts) == 3
    assert stage.dlq_messages() == []


def test_a_server_error_is_retried_without_cutting_the_rate(stage: Stage, time: FakeTime) -> None:
    deps = on_fake_time(stage.deps(), time)
    puts = Hooks(deps.dynamodb).on("PutItem", first_n(2, error("InternalServerError", 500)))
    event = {"Records": [sqs_record(status("c-1", AT.format(1)), message_id="m-1")]}
    assert handle(event, lambda_context(), deps) == {"batchItemFailures": []}
    assert len(puts) == 3
    assert "STATUS" in stage.items("c-1")
    assert deps.pacer.fraction == 1.0


def test_a_connection_error_is_retried(stage: Stage, time: FakeTime) -> None:
    deps = on_fake_time(stage.deps(), time)
    raised = 0

    def drop_once(_: dict[str, Any]) -> Answer:
        nonlocal raised
        raised += 1
        if raised == 1:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.example")
        return None

    Hooks(deps.dynamodb).on("PutItem", drop_once)
    event = {"Records": [sqs_record(status("c-1", AT.format(1)), message_id="m-1")]}
    assert handle(event, lambda_context(), deps) == {"batchItemFailures": []}
    assert raised == 2 and "STATUS" in stage.items("c-1")


def test_an_update_dynamodb_rejects_is_dead_lettered_and_its_neighbours_are_written(
    stage: Stage, time: FakeTime
) -> None:
    # GIVEN DynamoDB rejecting the write for one child as invalid
    deps = on_fake_time(stage.deps(), time)

    def reject_c1(request: dict[str, Any]) -> Answer:
        return error("ValidationException") if child_of(request) == "c-1" else None

    puts = Hooks(deps.dynamodb).on("PutItem", reject_c1)
    event = {
        "Records": [
            sqs_record(status("c-0", AT.format(1)), message_id="m-0"),
            sqs_record(status("c-1", AT.format(1)), message_id="m-1"),
            sqs_record(envelope(status("c-2", AT.format(1)), status("c-3", AT.format(1))), message_id="m-2"),
        ]
    }
    response = handle(event, lambda_context(), deps)
    # THEN the rejected update goes to the DLQ at once, with the reason (no retries: it cannot get better) ...
    assert failures(response) == set()
    assert len([p for p in puts if child_of(p) == "c-1"]) == 1
    assert time.backoffs == []
    [dead] = stage.dlq_messages()
    assert [u["child_id"] for u in json.loads(dead["Body"])["updates"]] == ["c-1"]
    assert "ValidationException" in dead["MessageAttributes"]["nicelist-error"]["StringValue"]
    # ... and its neighbours are written
    assert all("STATUS" in stage.items(c) for c in ("c-0", "c-2", "c-3"))


def test_an_unavailable_table_fails_the_messages_whole(stage: Stage, time: FakeTime) -> None:
    # GIVEN a table the writer may not write (a deployment problem, not the input's)
    deps = on_fake_time(stage.deps(), time)
    Hooks(deps.dynamodb).on("PutItem", lambda request: error("AccessDeniedException"))
    event = {"Records": [sqs_record(status("c-0", AT.format(1)), message_id="m-0")]}
    # THEN the message comes back (SQS redrive keeps it), nothing is deferred or dead-lettered by the writer
    assert failures(handle(event, lambda_context(), deps)) == {"m-0"}
    assert stage.dlq_messages() == []
    assert stage.sqs.receive_message(QueueUrl=stage.queue_url).get("Messages", []) == []


# --- BatchWriteItem (track points) ------------------------------------------------------------


def three_messages_of_track_points() -> dict[str, Any]:
    """m-a, m-b and m-c each carry 10 fixes for their own child: 30 track points, 2 chunks."""
    records = [
        sqs_record(envelope(*[location(child, AT.format(s), lat=float(s)) for s in range(10)]), message_id=m)
        for child, m in (("c-a", "m-a"), ("c-b", "m-b"), ("c-c", "m-c"))
    ]
    return {"Records": records}


def tracks(stage: Stage, child: str) -> set[str]:
    return {sk for sk in stage.items(child) if is_track(sk)}


def test_unprocessed_items_alone_are_retried_and_written(stage: Stage, time: FakeTime) -> None:
    # GIVEN BatchWriteItem leaving c-b's items unprocessed on the first two calls
    deps = on_fake_time(stage.deps(), time)
    calls = Hooks(deps.dynamodb).on("BatchWriteItem", leave_unprocessed(stage, lambda key: key[0] == "c-b", times=2))
    # WHEN three messages of track points are processed
    response = handle(three_messages_of_track_points(), lambda_context(), deps)
    # THEN every point is written and every message is done
    assert response == {"batchItemFailures": []}
    assert all(len(tracks(stage, c)) == 10 for c in ("c-a", "c-b", "c-c"))
    # AND the retries carried exactly the unprocessed items, nothing already written
    sent = [batch_keys(call) for call in calls]
    b_keys = {key for keys in sent for key in keys if key[0] == "c-b"}
    retried = [keys for keys in sent if all(child == "c-b" for child, _ in keys)]
    assert len(b_keys) == 10
    assert len(retried) == 2 and all(keys == b_keys for keys in retried)  # only c-b's, until processed
    assert sum(len(keys) for keys in sent) == 30 + 2 * 10
    assert len(time.backoffs) >= 1
    assert deps.pacer.fraction < 1.0


def test_a_chunk_bigger_than_what_its_second_has_left_goes_in_parts_each_within_its_second(
    stage: Stage, time: FakeTime
) -> None:
    # GIVEN a budget of 10 WCU/s and one write thread, and 30 track points (a chunk of 25 and one of 5)
    deps = on_fake_time(stage.deps(write_rate=10.0, write_burst_seconds=0.0, write_threads=1), time)
    sent: list[tuple[float, int]] = []

    def record(request: dict[str, Any]) -> Answer:
        writes = request["RequestItems"].popitem()[1] if "RequestItems" in request else [request["Item"]]
        sent.append((time.clock(), len(writes)))
        return None  # on to moto

    hooks = Hooks(deps.dynamodb)
    hooks.on("BatchWriteItem", record)
    hooks.on("PutItem", record)
    # WHEN the three messages are processed
    response = handle(three_messages_of_track_points(), lambda_context(), deps)
    # THEN everything is written, and no second was sent more than its 10 units: the 25 went in parts
    assert response == {"batchItemFailures": []}
    assert all(len(tracks(stage, c)) == 10 for c in ("c-a", "c-b", "c-c"))
    per_second: dict[int, int] = {}
    for at, units in sent:
        per_second[int(at)] = per_second.get(int(at), 0) + units
    assert sum(per_second.values()) == 33 and max(per_second.values()) <= 10
    assert sorted(units for _, units in sent if units > 1) == [2, 3, 6, 9, 10]


def test_items_unprocessed_until_the_deadline_fail_exactly_their_messages(stage: Stage, time: FakeTime) -> None:
    # GIVEN c-b's track points never processed
    deps = on_fake_time(stage.deps(max_attempts=10_000), time)
    Hooks(deps.dynamodb).on("BatchWriteItem", leave_unprocessed(stage, lambda key: key[0] == "c-b", times=10**9))
    # WHEN processed with a deadline
    response = handle(three_messages_of_track_points(), lambda_context(timeout_s=15.0), deps)
    # THEN only m-b comes back; the others' points are all written
    assert failures(response) == {"m-b"}
    assert tracks(stage, "c-b") == set()
    assert len(tracks(stage, "c-a")) == len(tracks(stage, "c-c")) == 10
    assert stage.dlq_messages() == []


def test_a_point_shared_by_two_messages_keeps_both_until_it_is_written(stage: Stage, time: FakeTime) -> None:
    # GIVEN the same fix delivered in two messages, and that point never processed
    deps = on_fake_time(stage.deps(max_attempts=4), time)
    shared = location("c-s", AT.format(5), lat=5.0)
    Hooks(deps.dynamodb).on("BatchWriteItem", leave_unprocessed(stage, lambda key: key[0] == "c-s", times=10**9))
    event = {
        "Records": [
            sqs_record(envelope(shared, location("c-t", AT.format(1))), message_id="m-1"),
            sqs_record(shared, message_id="m-2"),
            sqs_record(location("c-t", AT.format(2)), message_id="m-3"),
        ]
    }
    # THEN m-2 (no progress) comes back whole; m-1 made progress, so its remainder (the shared fix) is
    # deferred as a new message rather than rewriting c-t on its next delivery; m-3 is done
    assert failures(handle(event, lambda_context(), deps)) == {"m-2"}
    [deferred] = stage.sqs.receive_message(QueueUrl=stage.queue_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(deferred["Body"])["updates"] == [{**shared, "observed_at": "2026-12-23T18:00:05.000000Z"}]
    assert deferred["MessageAttributes"]["nicelist-deferred-from"]["StringValue"] == "m-1"


def test_a_throttled_batch_write_is_retried_whole(stage: Stage, time: FakeTime) -> None:
    deps = on_fake_time(stage.deps(), time)
    calls = Hooks(deps.dynamodb).on("BatchWriteItem", first_n(1, error("ProvisionedThroughputExceededException")))
    event = {"Records": [sqs_record(envelope(*[location("c-a", AT.format(s)) for s in range(5)]))]}
    assert handle(event, lambda_context(), deps) == {"batchItemFailures": []}
    assert len(calls) == 2 and batch_keys(calls[0]) == batch_keys(calls[1])
    assert len(tracks(stage, "c-a")) == 5


def test_a_server_error_on_batch_write_is_retried(stage: Stage, time: FakeTime) -> None:
    deps = on_fake_time(stage.deps(), time)
    calls = Hooks(deps.dynamodb).on("BatchWriteItem", first_n(2, error("InternalServerError", 500)))
    event = {"Records": [sqs_record(envelope(*[location("c-a", AT.format(s)) for s in range(3)]))]}
    assert handle(event, lambda_context(), deps) == {"batchItemFailures": []}
    assert len(calls) == 3 and len(tracks(stage, "c-a")) == 3


def test_one_item_dynamodb_rejects_in_a_batch_write_is_isolated_and_dead_lettered(stage: Stage, time: FakeTime) -> None:
    # GIVEN 30 track points (chunks of 25 and 5) and DynamoDB rejecting any batch holding one bad point
    deps = on_fake_time(stage.deps(), time)
    bad = ("c-c", track_key(parse_update(location("c-c", AT.format(7), lat=7.0)).revision))

    def reject_the_bad_point(request: dict[str, Any]) -> Answer:
        return error("ValidationException") if bad in batch_keys(request) else None

    Hooks(deps.dynamodb).on("BatchWriteItem", reject_the_bad_point)
    response = handle(three_messages_of_track_points(), lambda_context(), deps)
    # THEN the batch is split to find it: only that point is dead-lettered, every other one is written
    assert failures(response) == set()
    assert len(tracks(stage, "c-a")) == len(tracks(stage, "c-b")) == 10
    assert len(tracks(stage, "c-c")) == 9 and bad[1] not in tracks(stage, "c-c")
    [dead] = stage.dlq_messages()
    assert [u["observed_at"] for u in json.loads(dead["Body"])["updates"]] == ["2026-12-23T18:00:07.000000Z"]
    # and the state registers, written by PutItem, are not held back
    assert "LOCATION" in stage.items("c-c")


def test_a_rejected_update_does_not_take_the_older_update_coalesced_with_it_to_the_dlq(
    stage: Stage, time: FakeTime
) -> None:
    # GIVEN two messages with a status for c-1; DynamoDB rejects the newer one (the coalesced winner)
    deps = on_fake_time(stage.deps(), time)
    good = status("c-1", AT.format(0), "nice")
    bad = status("c-1", AT.format(9), "naughty")

    def reject_the_newer(request: dict[str, Any]) -> Answer:
        return error("ValidationException") if request["Item"]["status"]["S"] == "naughty" else None

    Hooks(deps.dynamodb).on("PutItem", reject_the_newer)
    event = {"Records": [sqs_record(good, message_id="m-good"), sqs_record(bad, message_id="m-bad")]}
    response = handle(event, lambda_context(), deps)
    # THEN only the rejected update is dead-lettered; the older one was not written, so its message
    # comes back (no progress) and will be written on its own next time
    [dead] = stage.dlq_messages()
    assert [u["status"] for u in json.loads(dead["Body"])["updates"]] == ["naughty"]
    assert failures(response) == {"m-good"}


def test_a_write_that_fails_for_good_reaches_the_dlq_with_its_reason_after_a_few_last_chance_deferrals(
    stage: Stage, time: FakeTime
) -> None:
    # GIVEN every PutItem failing with a 5xx, and a message on its last delivery before the DLQ
    deps = on_fake_time(stage.deps(max_attempts=2), time)
    Hooks(deps.dynamodb).on("PutItem", lambda request: error("InternalServerError", 500))
    body = status("c-1", AT.format(0))

    def last_delivery(stalled: int) -> dict[str, Any]:
        attributes = {"nicelist-stalled": str(stalled)} if stalled else None
        return {"Records": [sqs_record(body, message_id="m-1", receive_count=4, attributes=attributes)]}

    # THEN it is deferred while it has stalled fewer than 3 times
    assert failures(handle(last_delivery(0), lambda_context(), deps)) == set()
    assert failures(handle(last_delivery(2), lambda_context(), deps)) == set()
    # AND after that the writer dead-letters it itself, with the reason, instead of cycling forever
    # (or leaving it to SQS's redrive, which would carry no reason)
    assert failures(handle(last_delivery(3), lambda_context(), deps)) == set()
    [dead] = stage.dlq_messages()
    assert "server or connection errors" in dead["MessageAttributes"]["nicelist-error"]["StringValue"]
    assert [u["child_id"] for u in json.loads(dead["Body"])["updates"]] == ["c-1"]
    stalled = [
        m["MessageAttributes"]["nicelist-stalled"]["StringValue"]
        for m in stage.sqs.receive_message(
            QueueUrl=stage.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )["Messages"]
    ]
    assert sorted(stalled) == ["1", "3"]
