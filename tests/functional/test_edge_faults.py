"""SQS trouble at the edge: faults injected under the SDK and the enqueue API, checked against moto's queue.

GIVEN a generated batch of valid updates and a generated schedule of ``SendMessageBatch`` faults
(entries ``Failed`` with ``SenderFault`` true or false, throttling / 5xx / access-denied
``ClientError``s, connection errors and timeouts, and answers lost after SQS took the messages),
WHEN the SDK (``send_packed``, ``Producer.from_sqs``) or the API (``create_app`` + Flask's test
client) sends them, THEN every update is either acknowledged and in the queue afterwards, or
refused to its producer: ``SendFailed.unsent`` naming exactly the updates SQS never confirmed, or a
503 with ``Retry-After``. Duplicates in the queue are allowed (retries); losses are not.

Faults come from botocore event hooks on a moto client (``provide-client-params`` drops the
entries that are to fail, ``before-call`` answers for SQS, ``after-call`` adds the ``Failed``
entries or loses the answer), so SQS's real bookkeeping decides what is in the queue.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from contract.envelope import compact
from contract.updates import encode_update, parse_body, parse_update
from producers import Producer, ProducerSettings, RetryPolicy, SendFailed, Timing, send_packed
from producers.api import create_app
from tests.support.fakes import FakeClock

KEY = "edge-key"
ENDPOINT = "https://sqs.us-east-1.amazonaws.com"
TALLY: Counter[str] = Counter()

# (code, sender_fault) of per-entry failures; (code, HTTP status) of whole-call errors.
ENTRY_FAILURES = [
    ("InternalError", False),
    ("ServiceUnavailable", False),
    ("RequestThrottled", True),
    ("KmsThrottled", True),
    ("KMS.ThrottlingException", True),
    ("InvalidMessageContents", True),
    ("KmsAccessDenied", True),
]
CALL_ERRORS = [
    ("RequestThrottled", 400),
    ("ThrottlingException", 400),
    ("KmsThrottled", 400),
    ("InternalError", 500),
    ("InternalFailure", 500),
    ("ServiceUnavailable", 503),
    ("", 502),
    ("AccessDenied", 403),
    ("AWS.SimpleQueueService.NonExistentQueue", 400),
]
UNREACHABLE: list[Callable[[], Exception]] = [
    lambda: EndpointConnectionError(endpoint_url=ENDPOINT),
    lambda: ConnectTimeoutError(endpoint_url=ENDPOINT),
]
# Raised after SQS stored the messages: the producer never hears that they arrived.
ANSWER_LOST: list[Callable[[], Exception]] = [
    lambda: ReadTimeoutError(endpoint_url=ENDPOINT),
    lambda: ConnectionClosedError(endpoint_url=ENDPOINT),
    lambda: ClientError({"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "x"),
]


@dataclass(frozen=True)
class Fault:
    """What one ``SendMessageBatch`` call suffers. ``mask`` picks failing entries, cycled by position."""

    kind: str  # ok | partial | error | unreachable | answer_lost
    choice: int = 0
    mask: tuple[bool, ...] = (True,)


masks = st.lists(st.booleans(), min_size=1, max_size=4).map(tuple)
faults = st.one_of(
    st.just(Fault("ok")),
    st.builds(Fault, st.just("partial"), st.integers(0, len(ENTRY_FAILURES) - 1), masks),
    st.builds(Fault, st.just("error"), st.integers(0, len(CALL_ERRORS) - 1)),
    st.builds(Fault, st.just("unreachable"), st.integers(0, len(UNREACHABLE) - 1)),
    st.builds(Fault, st.just("answer_lost"), st.integers(0, len(ANSWER_LOST) - 1)),
)  # fmt: skip


@dataclass(frozen=True)
class Schedule:
    """Faults for the first calls; then every call succeeds, or the last fault repeats for ever."""

    faults: tuple[Fault, ...]
    forever: bool

    def fault(self, call: int) -> Fault:
        if call < len(self.faults):
            return self.faults[call]
        return self.faults[-1] if self.forever and self.faults else Fault("ok")


schedules = st.builds(Schedule, st.lists(faults, min_size=1, max_size=10).map(tuple), st.booleans())

# RFC 3339 offsets are whole minutes (historical zones such as LMT +00:09:21 are not)
OFFSETS = [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))]
times = st.datetimes(timezones=st.sampled_from(OFFSETS)).map(lambda d: d.isoformat())
valid_updates = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.just("status"), "observed_at": times, "status": st.sampled_from(["naughty", "nice"])},
        optional={"reason": st.text(max_size=280)},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("location"), "observed_at": times, "lat": st.floats(-90, 90), "lon": st.floats(-180, 180)},
        optional={"accuracy_m": st.floats(0, 1000)},
    ),
)  # fmt: skip
# Each update its own child, so "which updates" is a question about sets.
batches = st.lists(valid_updates, min_size=1, max_size=60).map(
    lambda raw: [update | {"child_id": f"kid-{i:04d}"} for i, update in enumerate(raw)]
)


def canonical(update: Any) -> str:
    return compact(encode_update(parse_update(update)))


class EdgeFaults:
    """Injects a ``Schedule`` into one client's ``SendMessageBatch`` calls and records what SQS confirmed."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.calls = 0
        self.injected = 0
        self.confirmed: set[str] = set()  # updates whose message SQS reported Successful to the client

    def install(self, client: Any) -> Callable[[], None]:
        hooks = [
            ("provide-client-params.sqs.SendMessageBatch", self._params),
            ("before-call.sqs.SendMessageBatch", self._before),
            ("after-call.sqs.SendMessageBatch", self._after),
        ]
        for name, hook in hooks:
            client.meta.events.register(name, hook)

        def uninstall() -> None:
            for name, hook in hooks:
                client.meta.events.unregister(name, hook)

        return uninstall

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> dict[str, Any] | None:
        fault = self.schedule.fault(self.calls)
        self.calls += 1
        self.injected += fault.kind != "ok"
        TALLY[f"fault {fault.kind}"] += 1
        entries = params["Entries"]
        context["edge"] = fault
        context["edge_bodies"] = {entry["Id"]: entry["MessageBody"] for entry in entries}
        if fault.kind != "partial":
            return None
        failing = [e["Id"] for k, e in enumerate(entries) if fault.mask[k % len(fault.mask)]]
        context["edge_failing"] = failing
        kept = [e for e in entries if e["Id"] not in failing]
        return {**params, "Entries": kept} if kept else None

    def _before(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        fault: Fault = context["edge"]
        if fault.kind == "error":
            code, status = CALL_ERRORS[fault.choice]
            parsed = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}}
            return AWSResponse(ENDPOINT, status, {}, None), parsed
        if fault.kind == "unreachable":
            raise UNREACHABLE[fault.choice]()
        if fault.kind == "partial" and len(context["edge_failing"]) == len(context["edge_bodies"]):
            empty = {"Successful": [], "Failed": [], "ResponseMetadata": {"HTTPStatusCode": 200}}
            return AWSResponse(ENDPOINT, 200, {}, None), empty
        return None

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        fault: Fault = context["edge"]
        if fault.kind == "partial":
            code, sender_fault = ENTRY_FAILURES[fault.choice]
            failed = [{"Id": i, "SenderFault": sender_fault, "Code": code} for i in context["edge_failing"]]
            parsed["Failed"] = [*parsed.get("Failed", []), *failed]
        if fault.kind == "answer_lost":
            raise ANSWER_LOST[fault.choice]()
        for entry in parsed.get("Successful", []):
            body = context["edge_bodies"][entry["Id"]]
            self.confirmed |= {canonical(u.model_dump(mode="json")) for u in parse_body(body).updates}


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    yield
    print("\nedge fault figures:", json.dumps(dict(sorted(TALLY.items()))))  # shown with -s


_queues = itertools.count()


def fresh_queue(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName=f"edge-{next(_queues)}")["QueueUrl"])


def queued(sqs: Any, url: str) -> set[str]:
    """Every update in the queue (duplicates fold together)."""
    found: set[str] = set()
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found |= {canonical(u.model_dump(mode="json")) for u in parse_body(message["Body"]).updates}
    return found


def fake_timing(seed: int) -> Timing:
    clock = FakeClock(1000.0)
    return Timing(RetryPolicy(0.05, 0.5, 2.0), clock, clock.sleep, random.Random(seed))


def check_sdk(name: str, sent: list[dict[str, Any]], named: list[Any], edge: EdgeFaults, in_queue: set[str]) -> None:
    """Acknowledged means in the queue; ``unsent`` names, once each, exactly what SQS never confirmed."""
    everything = {canonical(u) for u in sent}
    refused = [canonical(u.model_dump(mode="json")) for u in named]
    acknowledged = everything - set(refused)
    lost = acknowledged - in_queue
    tally(name, edge, len(acknowledged), len(set(refused)), len(lost))
    assert not lost, f"{len(lost)} acknowledged update(s) are not in the queue"
    assert len(refused) == len(set(refused)), "an update was named unsent twice"
    assert set(refused) == everything - edge.confirmed, "unsent does not name exactly the unconfirmed updates"


def tally(name: str, edge: EdgeFaults, acknowledged: int, refused: int, lost: int) -> None:
    TALLY[f"{name} examples"] += 1
    TALLY[f"{name} faults injected"] += edge.injected
    TALLY[f"{name} acknowledged"] += acknowledged
    TALLY[f"{name} refused"] += refused
    TALLY[f"{name} lost"] += lost
    event(f"{name}: {'refused some' if refused else 'all acknowledged'}")


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(updates=batches, schedule=schedules, per_envelope=st.integers(1, 4), seed=st.integers(0, 9))
def test_send_packed_acknowledges_only_what_is_queued(
    sqs: Any, updates: list[dict[str, Any]], schedule: Schedule, per_envelope: int, seed: int
) -> None:
    url, edge = fresh_queue(sqs), EdgeFaults(schedule)
    uninstall = edge.install(sqs)
    named: list[Any] = []
    try:
        send_packed(
            updates,
            sqs=sqs,
            queue_url=url,
            settings=ProducerSettings(max_updates_per_envelope=per_envelope),
            timing=fake_timing(seed),
        )
    except SendFailed as failure:
        named = failure.unsent
    finally:
        uninstall()

    check_sdk("send_packed", updates, named, edge, queued(sqs, url))


@PROPERTY
@given(
    updates=batches,
    schedule=schedules,
    per_envelope=st.integers(1, 4),
    polls=st.lists(st.booleans(), min_size=1, max_size=8),
    seed=st.integers(0, 9),
)
def test_producer_acknowledges_only_what_is_queued(
    sqs: Any, updates: list[dict[str, Any]], schedule: Schedule, per_envelope: int, polls: list[bool], seed: int
) -> None:
    url, edge = fresh_queue(sqs), EdgeFaults(schedule)
    uninstall = edge.install(sqs)
    clock = FakeClock(0.0)
    settings_ = ProducerSettings(max_updates_per_envelope=per_envelope)
    producer = Producer.from_sqs(
        sqs, url, settings=settings_, timing=fake_timing(seed), background=False, linger_seconds=0, clock=clock
    )
    named: list[Any] = []

    def attempt(step: Callable[[], None]) -> None:
        try:
            step()
        except SendFailed as failure:
            named.extend(failure.unsent)

    try:
        for i, update in enumerate(updates):
            attempt(functools.partial(producer.add, update))
            if polls[i % len(polls)]:
                producer.poll()  # what the background thread does after linger_seconds
        attempt(producer.flush)
        attempt(producer.close)
    finally:
        uninstall()

    check_sdk("producer", updates, named, edge, queued(sqs, url))


@PROPERTY
@given(
    updates=batches,
    schedule=schedules,
    per_envelope=st.integers(1, 4),
    per_request=st.integers(1, 30),
    seed=st.integers(0, 9),
)
def test_api_answers_202_only_for_what_is_queued(
    sqs: Any, updates: list[dict[str, Any]], schedule: Schedule, per_envelope: int, per_request: int, seed: int
) -> None:
    url, edge = fresh_queue(sqs), EdgeFaults(schedule)
    settings_ = ProducerSettings(stage="edge", api_keys=(KEY,), queue_url=url, max_updates_per_envelope=per_envelope)
    client = create_app(settings_, sqs=sqs, timing=fake_timing(seed)).test_client()
    acknowledged: set[str] = set()
    refused: set[str] = set()
    uninstall = edge.install(sqs)
    try:
        for start in range(0, len(updates), per_request):
            chunk = updates[start : start + per_request]
            response = client.post("/v1/updates", json=chunk, headers={"x-api-key": KEY})
            texts = {canonical(u) for u in chunk}
            if response.status_code == 202:
                assert response.get_json() == {"accepted": len(chunk)}
                acknowledged |= texts
            else:
                assert response.status_code == 503, response.get_data(as_text=True)
                assert int(response.headers["Retry-After"]) >= 1
                refused |= texts
    finally:
        uninstall()

    lost = acknowledged - queued(sqs, url)
    tally("api", edge, len(acknowledged), len(refused), len(lost))
    assert not lost, f"{len(lost)} update(s) answered 202 are not in the queue"
