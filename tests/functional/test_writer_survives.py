"""The writer survives what a careless or hostile producer, or a sick table, can do to it.

Each test closes a class of failure: any body, any attribute value, a throttle storm of any length,
slow SQS near the deadline, dead letters that SQS must accept, a table with the wrong key schema.
Paths moto cannot produce (throttling, SQS's size and character limits) use botocore event hooks.
"""

from __future__ import annotations

import dataclasses
import json
import time as wall
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from contract.updates import parse_body
from nicelist.local.events import sqs_event
from tests.functional.test_writer_throttling import Hooks, error
from tests.support import strict_sqs
from tests.support.events import envelope, lambda_context, location, sqs_record, status
from tests.support.fakes import FakeTime, on_fake_time
from tests.support.writer import Stage, create_stage
from writer.dlq import ERROR_ATTRIBUTE, INVALID, KIND_ATTRIBUTE, UNREADABLE
from writer.handler import DYNAMODB_TIMEOUTS, SQS_TIMEOUTS, handle
from writer.intake import Unreadable, read_body
from writer.processor import WriterDeps
from writer.settings import WriterSettings

AT = "2026-12-23T18:00:{:02d}Z"
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # 100 kB bodies


@pytest.fixture
def strict_stage() -> Iterator[Stage]:
    """A stage whose SQS clients refuse what real SQS refuses (size with attributes, characters)."""
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        strict_sqs.enforce(session._session)  # type: ignore[attr-defined]
        yield create_stage(session)


def failures(response: Any) -> set[str]:
    return {entry["itemIdentifier"] for entry in response["batchItemFailures"]}


def drain_dlq(stage: Stage) -> list[dict[str, Any]]:
    letters = stage.dlq_messages()
    for letter in letters:
        stage.sqs.delete_message(QueueUrl=stage.dlq_url, ReceiptHandle=letter["ReceiptHandle"])
    return letters


class Neighbour:
    """A valid update in a child of its own per example, so each example checks its own write."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> tuple[str, dict[str, Any]]:
        self.count += 1
        child = f"c-good-{self.count}"
        return child, status(child, AT.format(1), "naughty")


# --- any body -----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
PATHOLOGICAL = [
    "[" * 100_000,  # deeper than the parser's recursion limit
    '{"v":1,"updates":' + "[" * 50_000 + "]" * 50_000 + "}",
    '{"kind":"location","child_id":"c","lat":' + "9" * 5_000 + ',"lon":1,"observed_at":"2026-12-23T18:00:00Z"}',
    '{"v":1,"updates":[{"kind":"status","child_id":"c","status":"nice","observed_at":"2026-12-23T18:00:00Z",'
    '"reason":' + "1" * 10_000 + "}]}",
    '{"kind":"status","kind":"location"}',
    '{"v":1e400,"updates":[]}',
    '{"v":1,"updates":[NaN]}',
    "\ufeff{}",
]
BODIES = st.one_of(
    st.text(max_size=300),
    JSON.map(json.dumps),
    st.builds(lambda value: json.dumps(envelope(value)), JSON),
    st.sampled_from(PATHOLOGICAL),
)


@EXAMPLES
@given(body=BODIES)
def test_any_body_goes_to_the_dlq_unchanged_with_a_reason_and_its_neighbour_is_written(
    strict_stage: Stage, body: str
) -> None:
    assume(not strict_sqs.problems(body, None))  # SQS itself would not have taken it
    stage, deps = strict_stage, _deps(strict_stage)
    child, good = NEIGHBOURS.next()
    records = [sqs_record(body, message_id="m-bad"), sqs_record(good, message_id="m-good")]
    # WHEN one batch holds the body and a valid neighbour
    response = handle({"Records": records}, lambda_context(), deps)
    # THEN nothing comes back: the neighbour is written on its first delivery ...
    assert failures(response) == set()
    assert stage.items(child)["STATUS"]["status"] == {"S": "naughty"}
    # ... and the body, if the contract refuses it, is in the DLQ, unchanged, with a reason
    letters = drain_dlq(stage)
    parsed = read_body(body)
    if isinstance(parsed, Unreadable):
        [letter] = letters
        assert letter["Body"] == body
        assert letter["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"]
        return
    assert len(letters) == (1 if parsed.rejected else 0)


NEIGHBOURS = Neighbour()
_DEPS: dict[int, WriterDeps] = {}


def _deps(stage: Stage) -> WriterDeps:
    if id(stage) not in _DEPS:
        _DEPS.clear()
        _DEPS[id(stage)] = stage.deps()
    return _DEPS[id(stage)]


@pytest.mark.parametrize("exception", [RecursionError("deep"), ValueError("digits"), MemoryError(), KeyError("k")])
def test_a_parser_that_breaks_its_promise_fails_one_message_not_the_batch(
    stage: Stage, monkeypatch: pytest.MonkeyPatch, exception: Exception
) -> None:
    # GIVEN a body on which the JSON layer raises something other than InvalidBody
    def parse(body: str, **_: Any) -> Any:
        if body == "poison":
            raise exception
        return parse_body(body)

    monkeypatch.setattr("writer.intake.parse_body", parse)
    records = [sqs_record("poison", message_id="m-bad"), sqs_record(status("c-1", AT.format(1)), message_id="m-ok")]
    # WHEN they arrive in one batch THEN the neighbour is written and the poison is dead-lettered, with why
    assert failures(handle({"Records": records}, lambda_context(), stage.deps())) == set()
    assert "STATUS" in stage.items("c-1")
    [letter] = stage.dlq_messages()
    assert letter["Body"] == "poison"
    assert type(exception).__name__ in letter["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"]


ODD_VALUES = st.one_of(
    st.text(max_size=12), st.none(), st.integers(), st.just("²"), st.just("99999999999999999999"), st.just("-1")
)


@EXAMPLES
@given(receive_count=ODD_VALUES, stalled=ODD_VALUES, deferrals=ODD_VALUES, shape=st.booleans())
def test_attributes_the_writer_reads_are_absent_when_they_are_not_plain_numbers(
    stage: Stage, receive_count: Any, stalled: Any, deferrals: Any, shape: bool
) -> None:
    child, good = NEIGHBOURS.next()
    record = sqs_record(good, message_id="m-1")
    record["attributes"]["ApproximateReceiveCount"] = receive_count
    record["messageAttributes"] = (
        {
            "nicelist-stalled": {"stringValue": stalled, "dataType": "Number"},
            "nicelist-deferrals": {"stringValue": deferrals, "dataType": "Number"},
        }
        if shape
        else {"nicelist-stalled": stalled}
    )
    assert failures(handle({"Records": [record]}, lambda_context(), _deps(stage))) == set()
    assert "STATUS" in stage.items(child)


# --- throttling alone never reaches the DLQ -------------------------------------------------------


def test_a_throttle_storm_longer_than_max_receive_count_is_a_delay_not_a_loss(stage: Stage) -> None:
    # GIVEN a queue that dead-letters after 5 receives, and a table throttling every write
    time = FakeTime()
    deps = on_fake_time(stage.deps(max_attempts=2), time)
    storm = {"on": True}
    Hooks(deps.dynamodb).on(
        "PutItem", lambda _: error("ProvisionedThroughputExceededException") if storm["on"] else None
    )
    _redrive_after(stage, 5)
    stage.sqs.send_message(QueueUrl=stage.queue_url, MessageBody=json.dumps(status("c-1", AT.format(1))))
    # WHEN the storm lasts 40 deliveries (eight times maxReceiveCount)
    rounds = [_deliver_once(stage, deps) for _ in range(40)]
    # THEN the update was delivered again and again, never reached the DLQ, and lands once the storm ends
    assert sum(rounds) >= 30
    assert stage.dlq_messages() == []
    storm["on"] = False
    for _ in range(3):
        _deliver_once(stage, deps)
    assert "STATUS" in stage.items("c-1")
    assert stage.dlq_messages() == []


def _redrive_after(stage: Stage, receives: int) -> None:
    dlq_arn = stage.sqs.get_queue_attributes(QueueUrl=stage.dlq_url, AttributeNames=["QueueArn"])["Attributes"]
    policy = {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": receives}
    stage.sqs.set_queue_attributes(QueueUrl=stage.queue_url, Attributes={"RedrivePolicy": json.dumps(policy)})


def _deliver_once(stage: Stage, deps: WriterDeps) -> int:
    """One poll as Lambda's mapping does it: receive, invoke, delete the successes; returned messages are
    made visible at once (the writer asked SQS for a backoff; the test does not wait it out)."""
    messages = stage.sqs.receive_message(
        QueueUrl=stage.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])
    if not messages:
        return 0
    arn = "arn:aws:sqs:us-east-1:123456789012:nicelist-test-updates"
    failed = failures(handle(dict(sqs_event(messages, arn, "us-east-1")), lambda_context(), deps))
    for message in messages:
        if message["MessageId"] in failed:
            stage.sqs.change_message_visibility(
                QueueUrl=stage.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        else:
            stage.sqs.delete_message(QueueUrl=stage.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


# --- returned messages come back on a backoff -------------------------------------------------------


def _visibility_changes(deps: WriterDeps) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    deps.returns._sqs.meta.events.register(  # type: ignore[attr-defined]
        "before-parameter-build.sqs.ChangeMessageVisibilityBatch",
        lambda params, **_: changes.extend(params["Entries"]),
    )
    return changes


@pytest.mark.parametrize(
    ("receive_count", "low", "high"), [(1, 1, 2), (2, 2, 4), (4, 8, 16), (9, 150, 300), (30, 150, 300)]
)
def test_a_returned_message_is_invisible_for_a_backoff_that_grows_with_its_receive_count(
    stage: Stage, receive_count: int, low: int, high: int
) -> None:
    # GIVEN a write that is throttled on every attempt, in a message received receive_count times
    # (maxReceiveCount far away: no last-chance deferral)
    deps = on_fake_time(stage.deps(max_attempts=1, max_receive_count=100), FakeTime())
    Hooks(deps.dynamodb).on("PutItem", lambda _: error("ProvisionedThroughputExceededException"))
    changes = _visibility_changes(deps)
    stage.sqs.send_message(QueueUrl=stage.queue_url, MessageBody="{}")
    [message] = stage.sqs.receive_message(QueueUrl=stage.queue_url)["Messages"]
    record = sqs_record(status("c-1", AT.format(1)), message_id="m-1", receive_count=receive_count)
    record["receiptHandle"] = message["ReceiptHandle"]
    # WHEN it is handed back
    assert failures(handle({"Records": [record]}, lambda_context(), deps)) == {"m-1"}
    # THEN SQS was asked to show it again after base x 2^(n-1) seconds, jittered down to half, capped at 300
    [change] = changes
    assert change["ReceiptHandle"] == message["ReceiptHandle"]
    assert low <= change["VisibilityTimeout"] <= high


def test_a_message_the_table_cannot_take_waits_the_longest(stage: Stage) -> None:
    # GIVEN a table whose key schema is not the contract's (a deployment mistake, not bad input)
    stage.dynamodb.delete_table(TableName=stage.table)
    stage.dynamodb.create_table(
        TableName=stage.table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    deps = stage.deps()
    changes = _visibility_changes(deps)
    event = {
        "Records": [sqs_record(envelope(status("c-1", AT.format(1)), location("c-1", AT.format(2))), message_id="m-1")]
    }
    # WHEN valid updates arrive
    response = handle(event, lambda_context(), deps)
    # THEN they are not dead-lettered as if they were invalid: the message comes back, after the longest
    # backoff, so an operator has time to fix the table before SQS's redrive
    assert failures(response) == {"m-1"}
    assert stage.dlq_messages() == []
    assert [c["VisibilityTimeout"] for c in changes] == [300]


# --- the deadline covers every call -------------------------------------------------------------------


def test_slow_sqs_cannot_make_an_invocation_outlive_its_timeout(stage: Stage) -> None:
    # GIVEN an SQS that takes 1.2 s per call, and eight invalid messages to dead-letter
    deps = stage.deps(sqs_call_reserve_ms=3100)
    deps.dead_letters._sqs.meta.events.register(  # type: ignore[attr-defined]
        "before-call.sqs.SendMessage", lambda **_: wall.sleep(1.2)
    )
    records = [sqs_record("not json", message_id=f"m-{i}") for i in range(8)]
    # WHEN the invocation has 5 s
    started = wall.monotonic()
    response = handle({"Records": records}, lambda_context(timeout_s=5.0), deps)
    elapsed = wall.monotonic() - started
    # THEN it stops calling SQS while it still has time to answer: what it could not send comes back
    assert elapsed < 5.0
    assert 0 < len(failures(response)) < 8
    assert len(stage.dlq_messages()) == 8 - len(failures(response))


def test_the_sqs_timeouts_fit_inside_the_reserve_and_the_margin_holds_what_follows_the_writes() -> None:
    worst = SQS_TIMEOUTS.connect_timeout + SQS_TIMEOUTS.read_timeout  # one attempt, no botocore retries
    assert SQS_TIMEOUTS.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert DYNAMODB_TIMEOUTS.retries == {"total_max_attempts": 1, "mode": "standard"}
    settings = WriterSettings()
    assert worst * 1000 < settings.sqs_call_reserve_ms
    # the last DynamoDB request in flight, then a deferral call and the backoff call behind it
    in_flight = (DYNAMODB_TIMEOUTS.connect_timeout + DYNAMODB_TIMEOUTS.read_timeout) * 1000
    assert in_flight + 2 * settings.sqs_call_reserve_ms <= settings.deadline_margin_ms


# --- what the writer dead-letters always fits ------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "chars", "char"),
    [
        (3, 150_000, "é"),  # 900 kB of UTF-8 that escaping triples: split over several dead letters
        (1, 350_000, "é"),  # one update that no longer fits alone once escaped: the original body goes
        (40, 100, "\u2603"),
    ],
)
def test_rejected_updates_reach_the_dlq_with_their_reasons_however_they_are_spelt(
    strict_stage: Stage, count: int, chars: int, char: str
) -> None:
    # GIVEN an envelope whose invalid updates carry an unknown field of non-ASCII text, and one valid one
    bad = [status(f"c-{i}", AT.format(1), note=char * chars) for i in range(count)]
    body = json.dumps(envelope(*bad, status("c-ok", AT.format(2))), ensure_ascii=False)
    assert len(body.encode()) < 1024 * 1024
    # WHEN it is delivered
    response = handle({"Records": [sqs_record(body, message_id="m-1")]}, lambda_context(), strict_stage.deps())
    # THEN on this first delivery every rejected update is in the DLQ with a reason, and the valid one written
    assert failures(response) == set()
    assert "STATUS" in strict_stage.items("c-ok")
    letters = drain_dlq(strict_stage)
    held = [u for letter in letters for u in json.loads(letter["Body"])["updates"]]
    assert sorted(u["child_id"] for u in held if u["child_id"] != "c-ok") == sorted(f"c-{i}" for i in range(count))
    assert all("note" in letter["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"] for letter in letters)


@EXAMPLES
@given(name=st.text(min_size=1, max_size=12), value=st.text(max_size=50))
def test_a_reason_naming_any_field_is_an_attribute_sqs_accepts(strict_stage: Stage, name: str, value: str) -> None:
    assume(name not in {"kind", "child_id", "status", "observed_at", "reason"})
    bad = {**status("c-bad", AT.format(1)), name: value}
    body = json.dumps(envelope(bad, status("c-ok", AT.format(2))))
    response = handle({"Records": [sqs_record(body, message_id="m-1")]}, lambda_context(), _deps(strict_stage))
    assert failures(response) == set()
    [letter] = drain_dlq(strict_stage)
    reason = letter["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"]
    assert reason.startswith("update [0] (was [0])")
    assert not strict_sqs.problems("", {ERROR_ATTRIBUTE: {"DataType": "String", "StringValue": reason}})


# --- observations too far ahead, when the deployment bounds them ----------------------------------------


def test_an_observation_too_far_ahead_is_dead_lettered_with_its_reason_when_bounded(stage: Stage) -> None:
    # GIVEN a writer that refuses observations more than an hour ahead of its clock (deployed stages do)
    deps = stage.deps(max_future_seconds=3600)
    soon, far = status("c-soon", "2030-01-01T00:30:00Z"), status("c-far", "2030-01-01T02:00:00Z")
    deps = dataclasses.replace(deps, wall_clock=lambda: 1_893_456_000.0)  # 2030-01-01T00:00:00Z
    event = {"Records": [sqs_record(envelope(soon, far), message_id="m-1")]}
    # WHEN both arrive THEN the one within the bound is written, the other dead-lettered with why
    assert failures(handle(event, lambda_context(), deps)) == set()
    assert "STATUS" in stage.items("c-soon") and stage.items("c-far") == {}
    [letter] = stage.dlq_messages()
    assert "ahead of now" in letter["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"]
    # AND without a bound (the default), a replay of a future date is written
    assert failures(handle(event, lambda_context(), stage.deps())) == set()
    assert "STATUS" in stage.items("c-far")


def test_every_dead_letter_says_for_machines_whether_it_can_ever_be_written(stage: Stage) -> None:
    # GIVEN an unreadable body, an envelope with an invalid update, and a valid neighbour
    bad = {**status("c-bad", AT.format(1)), "status": "grumpy"}
    records = [
        sqs_record("not json", message_id="m-1"),
        sqs_record(envelope(bad, status("c-ok", AT.format(2))), message_id="m-2"),
    ]
    assert failures(handle({"Records": records}, lambda_context(), stage.deps())) == set()
    # THEN each dead letter carries its kind beside its reason, which `nicelist dlq redrive` decides by
    kinds = sorted(m["MessageAttributes"][KIND_ATTRIBUTE]["StringValue"] for m in stage.dlq_messages())
    assert kinds == [INVALID, UNREADABLE]
