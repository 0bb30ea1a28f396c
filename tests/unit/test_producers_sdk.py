"""The SDK's packing, batching and retries, with a fake clock and botocore's Stubber."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

import producers
from contract.envelope import encode_envelope
from contract.updates import InvalidUpdate, encode_update, parse_body
from producers import Producer, RetryPolicy, SendFailed, SqsTransport, Timing, send_packed
from producers.packing import SQS_BATCH_BYTES, batches, pack, to_item
from producers.settings import ProducerSettings
from tests.support.fakes import FakeClock

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/nicelist-test-updates"


def status(i: int, reason: str | None = None) -> dict[str, Any]:
    update = {
        "kind": "status",
        "child_id": f"c-{i:06d}",
        "status": "nice",
        "observed_at": "2026-12-23T18:04:05Z",
    }
    if reason:
        update["reason"] = reason
    return update


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def sqs() -> Any:
    return boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


def timing(clock: FakeClock, deadline: float = 10.0) -> Timing:
    return Timing(RetryPolicy(0.1, 1.0, deadline), clock, clock.sleep, random.Random(7))


def ok(entries: list[str]) -> dict[str, Any]:
    return {
        "Successful": [{"Id": i, "MessageId": f"m{i}", "MD5OfMessageBody": "x"} for i in entries],
        "Failed": [],
    }


def test_public_names_exist() -> None:
    for name in producers.__all__:
        assert getattr(producers, name) is not None


def test_envelopes_respect_byte_and_count_limits_and_match_the_contract_encoding() -> None:
    items = [to_item(status(i, "é" * 50)) for i in range(300)]

    by_size = pack(items, max_bytes=4096, max_count=1000)
    by_count = pack(items, max_bytes=1 << 20, max_count=7)

    assert all(m.size <= 4096 for m in by_size)
    assert all(len(pack([*m.items, items[0]], 4096)) == 2 for m in by_size[:-1])  # greedy: full
    assert [len(m.items) for m in by_count] == [7] * 42 + [6]
    for message in by_size:
        assert message.body == encode_envelope(encode_update(u) for u in message.updates)
        assert len(parse_body(message.body).updates) == len(message.items)
    assert [u for m in by_size for u in m.updates] == [i.update for i in items]


def test_batches_carry_at_most_ten_entries_and_one_mib() -> None:
    items = [to_item(status(i, "x" * 280)) for i in range(20_000)]
    messages = pack(items, max_bytes=256 * 1024)
    small = pack(items, max_bytes=8 * 1024)

    big_calls = list(batches(messages))
    small_calls = list(batches(small))

    assert all(sum(m.size for m in call) <= SQS_BATCH_BYTES for call in big_calls)
    assert max(len(call) for call in big_calls) == 4  # 4 x 256 KiB fill 1 MiB
    assert all(len(call) <= 10 for call in small_calls)
    assert len(small_calls[0]) == 10


def test_invalid_updates_are_rejected_on_the_way_in_with_field_names(clock: FakeClock, sqs: Any) -> None:
    producer = Producer(SqsTransport(sqs, QUEUE_URL, timing=timing(clock)), background=False)

    with pytest.raises(InvalidUpdate) as caught:
        producer.add({"kind": "location", "child_id": "bad id!", "lat": 91, "lon": 0, "observed_at": "2026-12-23"})

    fields = {e.field for e in caught.value.errors}
    assert {"child_id", "lat", "observed_at"} <= fields


def test_per_entry_failures_are_retried_with_backoff_until_confirmed(clock: FakeClock, sqs: Any) -> None:
    transport = SqsTransport(sqs, QUEUE_URL, max_updates_per_envelope=1, timing=timing(clock))
    items = [to_item(status(i)) for i in range(12)]  # 12 envelopes: calls of 10 and 2
    with Stubber(sqs) as stub:
        failed = {"Id": "1", "SenderFault": False, "Code": "InternalError"}
        first = ok(["0", *[str(i) for i in range(2, 10)]]) | {"Failed": [failed]}
        stub.add_response("send_message_batch", first, {"QueueUrl": QUEUE_URL, "Entries": ANY})
        stub.add_response("send_message_batch", ok(["1"]), {"QueueUrl": QUEUE_URL, "Entries": ANY})
        stub.add_client_error("send_message_batch", "RequestThrottled", http_status_code=400)
        stub.add_client_error("send_message_batch", "InternalError", http_status_code=500)
        stub.add_response("send_message_batch", ok(["0", "1"]), {"QueueUrl": QUEUE_URL, "Entries": ANY})

        stats = transport.send(items)

        stub.assert_no_pending_responses()
    assert stats.updates == 12 and stats.messages == 12
    assert stats.requests == 5 and stats.retries == 3
    assert len(clock.sleeps) == 3


def test_gives_up_at_the_deadline_and_hands_back_exactly_the_unsent_updates(clock: FakeClock, sqs: Any) -> None:
    transport = SqsTransport(sqs, QUEUE_URL, envelope_bytes=4096, timing=timing(clock, deadline=2.0))
    items = [to_item(status(i, "r" * 200)) for i in range(10)]
    messages = pack(items, 4096)
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch",
            ok(["1"]) | {"Failed": [{"Id": "0", "SenderFault": False, "Code": "ServiceUnavailable"}]},
        )
        for _ in range(200):
            stub.add_client_error("send_message_batch", "ServiceUnavailable", http_status_code=503)

        with pytest.raises(SendFailed) as caught:
            transport.send(items)

    assert caught.value.unsent == messages[0].updates
    assert clock.now - 1000.0 <= 2.0
    assert "ServiceUnavailable" in str(caught.value)


def test_sender_faults_fail_at_once_without_retrying(clock: FakeClock, sqs: Any) -> None:
    transport = SqsTransport(sqs, QUEUE_URL, timing=timing(clock))
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch",
            {
                "Successful": [],
                "Failed": [{"Id": "0", "SenderFault": True, "Code": "InvalidMessageContents"}],
            },
        )
        with pytest.raises(SendFailed, match="InvalidMessageContents") as caught:
            transport.send([to_item(status(1))])
    assert len(caught.value.unsent) == 1 and clock.sleeps == []


def test_access_denied_is_not_retried(clock: FakeClock, sqs: Any) -> None:
    with Stubber(sqs) as stub:
        stub.add_client_error("send_message_batch", "AccessDenied", http_status_code=403)
        with pytest.raises(SendFailed, match="AccessDenied"):
            send_packed([status(1)], sqs=sqs, queue_url=QUEUE_URL, timing=timing(clock))
    assert clock.sleeps == []


class RecordingTransport:
    def __init__(self, max_updates: int = 5, fail: bool = False) -> None:
        self.max_updates = max_updates
        self.max_bytes = 1 << 20
        self.sent: list[list[str]] = []
        self.fail = fail

    def send(self, items: Any, *, timeout: float | None = None) -> producers.SendStats:
        if self.fail:
            raise SendFailed([i.update for i in items], ["down"])
        self.sent.append([i.update.child_id for i in items])
        return producers.SendStats(updates=len(items), messages=1, requests=1)


def test_producer_sends_when_full_when_lingering_and_on_exit(clock: FakeClock) -> None:
    transport = RecordingTransport(max_updates=5)
    with Producer(transport, linger_seconds=1.0, clock=clock, background=False) as producer:
        for i in range(7):
            producer.add(status(i))
        assert [len(b) for b in transport.sent] == [5]
        producer.poll()
        assert len(transport.sent) == 1  # not lingering long enough yet
        clock.now += 1.0
        producer.poll()
        assert [len(b) for b in transport.sent] == [5, 2]
        producer.add(status(99))
    assert transport.sent[-1] == ["c-000099"]
    assert producer.stats.updates == 8


def test_a_failed_background_send_is_raised_to_the_next_caller_with_the_updates(clock: FakeClock) -> None:
    producer = Producer(RecordingTransport(fail=True), linger_seconds=0, clock=clock, background=False)
    producer.add(status(1))
    producer.poll()  # what the background thread does

    with pytest.raises(SendFailed) as caught:
        producer.add(status(2))

    # c-000002 was refused with it, so it is named too
    assert [u.child_id for u in caught.value.unsent] == ["c-000001", "c-000002"]


def test_on_failure_receives_failures_instead(clock: FakeClock) -> None:
    seen: list[SendFailed] = []
    with Producer(RecordingTransport(fail=True), on_failure=seen.append, background=False) as producer:
        producer.add(status(1))
    assert len(seen) == 1 and len(seen[0].unsent) == 1


def test_background_thread_flushes_after_linger() -> None:
    transport = RecordingTransport(max_updates=1000)
    producer = Producer(transport, linger_seconds=0.05)
    producer.add(status(1))
    deadline = time.monotonic() + 5
    while not transport.sent and time.monotonic() < deadline:
        time.sleep(0.01)
    producer.close()
    assert transport.sent == [["c-000001"]]


def test_docstring_example_with_a_stubbed_queue(sqs: Any) -> None:
    with Stubber(sqs) as stub:
        stub.add_response("send_message_batch", ok(["0"]))
        with Producer.from_sqs(sqs, queue_url=QUEUE_URL, settings=ProducerSettings()) as producer:
            producer.add(
                {
                    "kind": "status",
                    "child_id": "c-000042",
                    "status": "nice",
                    "observed_at": "2026-12-23T18:04:05Z",
                }
            )
        stub.assert_no_pending_responses()


def test_models_are_accepted_and_normalized(sqs: Any) -> None:
    item = to_item(to_item(status(1)).update)
    assert json.loads(item.text)["observed_at"] == "2026-12-23T18:04:05.000000Z"


def test_an_add_refused_for_an_earlier_failure_names_its_own_update_unsent(clock: FakeClock) -> None:
    # GIVEN a background send (poll) that failed and has not been raised to anyone yet
    producer = Producer(RecordingTransport(fail=True), linger_seconds=0, clock=clock, background=False)
    producer.add(status(1))
    producer.poll()

    # WHEN the next add() raises that failure instead of accepting its update
    with pytest.raises(SendFailed) as caught:
        producer.add(status(2))

    # THEN the update it refused is named unsent too: spooling .unsent loses nothing
    assert [u.child_id for u in caught.value.unsent] == ["c-000001", "c-000002"]
    producer.close()  # nothing left behind: c-000002 was not buffered
    assert producer.stats.updates == 0


@pytest.mark.parametrize("entry", [False, True])
def test_kms_throttling_is_retried_not_refused_at_once(clock: FakeClock, sqs: Any, entry: bool) -> None:
    # GIVEN SQS answering KmsThrottled (the SQS code for a throttled KMS key), for the call or for an entry
    transport = SqsTransport(sqs, QUEUE_URL, timing=timing(clock))
    with Stubber(sqs) as stub:
        if entry:
            failed = {"Id": "0", "SenderFault": True, "Code": "KmsThrottled"}
            stub.add_response("send_message_batch", {"Successful": [], "Failed": [failed]})
        else:
            stub.add_client_error("send_message_batch", "KmsThrottled", http_status_code=400)
        stub.add_response("send_message_batch", ok(["0"]))

        # WHEN the transport sends one update
        stats = transport.send([to_item(status(1))])

        # THEN it waited and tried again, and the second answer confirmed it
        stub.assert_no_pending_responses()
    assert stats.updates == 1 and stats.retries == 1 and len(clock.sleeps) == 1


def test_a_timeout_shortens_the_retry_deadline(clock: FakeClock, sqs: Any) -> None:
    # GIVEN SQS unavailable for good, and a policy that would retry for 10 s
    transport = SqsTransport(sqs, QUEUE_URL, timing=timing(clock, deadline=10.0))
    with Stubber(sqs) as stub:
        for _ in range(100):
            stub.add_client_error("send_message_batch", "ServiceUnavailable", http_status_code=503)

        # WHEN the exit flush sends with what is left of its bound, 0.5 s
        with pytest.raises(SendFailed, match="gave up") as caught:
            transport.send([to_item(status(1))], timeout=0.5)

    # THEN it gave up within 0.5 s and handed the update back
    assert clock.now - 1000.0 <= 0.5 and len(caught.value.unsent) == 1
