"""A batch bigger than one invocation's budget: progress is kept, nothing is written twice, nothing is lost."""

from __future__ import annotations

import json
import time as wall
from typing import Any

from nicelist.local.context import LambdaContext
from tests.support.events import envelope, lambda_context, sqs_record, status
from tests.support.fakes import FakeTime, on_fake_time
from tests.support.writer import Stage
from writer.handler import handle

AT = "2026-12-23T18:00:{:02d}Z"


def fake_time_context(time: FakeTime, timeout_s: float) -> LambdaContext:
    """A LambdaContext whose deadline runs on the same fake clock as the writer's pacing."""
    return lambda_context(timeout_s, clock_ms=lambda: int(time.clock() * 1000))


def test_the_unwritten_remainder_is_deferred_and_written_on_its_next_delivery(stage: Stage) -> None:
    # GIVEN 3 messages of 10 status updates (30 write units) and a budget of 10 WCU/s
    time = FakeTime()
    # one write thread: the fake clock adds every sleeper's wait, so only sequential pacing is exact on it
    settings = {
        "write_rate": 10.0,
        "write_burst_seconds": 0.0,
        "deadline_margin_ms": 3000,
        "sqs_call_reserve_ms": 1000,  # 3 s are left after the writes: time for the SQS calls
        "write_threads": 1,
    }
    deps = on_fake_time(stage.deps(**settings), time)
    records = [
        sqs_record(envelope(*[status(f"{m}-{i}", AT.format(i)) for i in range(10)]), message_id=m)
        for m in ("m-a", "m-b", "m-c")
    ]
    # WHEN the invocation has 4.5 s left: 1.5 s of budget after the margin, 15 of the 30 writes
    response = handle({"Records": records}, fake_time_context(time, timeout_s=4.5), deps)
    # THEN m-a is done; m-b, half written, is not handed back whole: its other half is a new message;
    # m-c, with nothing written, comes back as a batch item failure (nothing to keep)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-c"}]}
    [deferred] = stage.sqs.receive_message(QueueUrl=stage.queue_url, MessageAttributeNames=["All"])["Messages"]
    left = [u["child_id"] for u in json.loads(deferred["Body"])["updates"]]
    assert all(stage.items(f"m-a-{i}") for i in range(10))
    written_b = [f"m-b-{i}" for i in range(10) if stage.items(f"m-b-{i}")]
    assert 3 <= len(written_b) <= 6  # about half: the bucket starts empty, float edges at the deadline
    assert sorted(left) == sorted(f"m-b-{i}" for i in range(10) if f"m-b-{i}" not in written_b)
    assert deferred["MessageAttributes"]["nicelist-deferred-from"]["StringValue"] == "m-b"
    assert deferred["MessageAttributes"]["nicelist-deferrals"]["StringValue"] == "1"
    # AND delivering the remainder and m-c again writes exactly the rest: no write is spent twice
    calls = []
    deps.dynamodb.meta.events.register("before-call.dynamodb.PutItem", lambda **kwargs: calls.append(1))
    carried = {name: a["StringValue"] for name, a in deferred["MessageAttributes"].items()}
    redelivery = [sqs_record(deferred["Body"], message_id="m-d", attributes=carried), records[2]]
    assert handle({"Records": redelivery}, lambda_context(timeout_s=30.0), deps) == {"batchItemFailures": []}
    assert len(calls) == len(left) + 10
    assert all(stage.items(f"{m}-{i}") for m in ("m-a", "m-b", "m-c") for i in range(10))
    assert stage.dlq_messages() == []


def test_when_the_queue_refuses_the_remainder_the_message_comes_back_whole(stage: Stage) -> None:
    time = FakeTime()
    settings = {
        "write_rate": 2.0,
        "write_burst_seconds": 0.0,
        "write_threads": 1,
        "queue_url": stage.queue_url + "-gone",
    }
    deps = on_fake_time(stage.deps(**settings), time)
    record = sqs_record(envelope(*[status(f"c-{i}", AT.format(i % 60)) for i in range(30)]), message_id="m-1")
    # partly written by the deadline (20 s less the default margin of 9.5 s at 2 WCU/s: 21 of 30
    # updates): the remainder should be deferred, but the queue is gone
    response = handle({"Records": [record]}, fake_time_context(time, timeout_s=20.0), deps)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert 0 < sum(bool(stage.items(f"c-{i}")) for i in range(30)) < 30


def test_a_slow_table_and_a_slow_queue_still_leave_time_to_defer_and_back_off(stage: Stage) -> None:
    """What the deadline margin is for (writer/settings.py): after the last write, however slow it
    was, the writer still sends the remainders (batched) and backs off what it returns, so no message
    waits out the whole visibility timeout. Real time, the margin scaled down: a write in flight of up
    to 1 s, then two SQS calls of 0.7 s reserve each. Three threads and four updates a message: the
    rounds of writes (0 s, 0.9 s, 1.8 s; a fourth would start after the 2.5 s deadline) end inside a
    message however slow the machine, so one message is always part-written."""
    deps = stage.deps(
        write_rate=20.0,
        write_burst_seconds=0.0,
        write_threads=3,
        deadline_margin_ms=2500,
        sqs_call_reserve_ms=700,
    )
    calls: list[str] = []

    def slow(seconds: float, name: str) -> Any:
        def hook(**_: Any) -> None:
            calls.append(name)
            wall.sleep(seconds)

        return hook

    deps.dynamodb.meta.events.register("before-call.dynamodb.PutItem", slow(0.9, "PutItem"))
    for operation in ("SendMessage", "SendMessageBatch", "ChangeMessageVisibilityBatch"):
        deps.deferrals._sqs.meta.events.register(f"before-call.sqs.{operation}", slow(0.3, operation))  # type: ignore[attr-defined]
    records = []
    for m in range(10):
        stage.sqs.send_message(QueueUrl=stage.queue_url, MessageBody="{}")
        [message] = stage.sqs.receive_message(QueueUrl=stage.queue_url)["Messages"]
        record = sqs_record(envelope(*[status(f"c-{m}-{i}", AT.format(i)) for i in range(4)]), message_id=f"m-{m}")
        record["receiptHandle"] = message["ReceiptHandle"]
        records.append(record)
    # WHEN ten messages of four updates meet a table that takes 0.9 s a write, with 5 s to go
    started = wall.monotonic()
    response = handle({"Records": records}, lambda_context(timeout_s=5.0), deps)
    elapsed = wall.monotonic() - started
    # THEN the invocation answered in time, after one deferral call and one backoff call at most
    assert elapsed < 5.0
    returned = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    deferred = {
        m["MessageAttributes"]["nicelist-deferred-from"]["StringValue"]
        for m in stage.sqs.receive_message(
            QueueUrl=stage.queue_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        if "nicelist-deferred-from" in m.get("MessageAttributes", {})
    }
    done = {f"m-{m}" for m in range(10) if all(stage.items(f"c-{m}-{i}") for i in range(4))}
    assert returned and deferred and done  # the deadline cut the batch: some of each
    assert done | deferred | returned == {f"m-{m}" for m in range(10)}
    assert not (done & returned) and not (deferred & returned)
    assert calls.count("SendMessage") == 0 and calls.count("SendMessageBatch") == 1
    assert calls.count("ChangeMessageVisibilityBatch") == 1  # every returned message on a backoff
