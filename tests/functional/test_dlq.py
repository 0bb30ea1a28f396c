"""``nicelist dlq peek|redrive|purge`` on dead letters the real writer produced (moto in-process).

The reasons are the writer's own (a changed wording would fail here, not at a peak): not JSON, an
unknown envelope version, an invalid bare update, an invalid update of an envelope, an item DynamoDB
refused, updates given up after server errors, and one SQS moved after maxReceiveCount (no reason).
"""

from __future__ import annotations

import json
import time as wall
from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner

from contract.names import StageNames
from contract.updates import parse_body
from nicelist.cli import main
from nicelist.deadletters import classify
from nicelist.dlq import peek, redrive, redrive_policy
from nicelist.local.events import sqs_event as lambda_event
from nicelist.provision import Clients, ProvisionOptions, provision_stage
from nicelist.redrive import Selection, redrive_by_copy
from tests.functional.test_writer_throttling import Hooks, error
from tests.support.events import envelope, lambda_context, location, sqs_event, sqs_record, status
from tests.support.fakes import FakeClock, FakeTime, on_fake_time
from tests.support.writer import Stage
from writer.handler import handle

AT = "2026-12-23T18:00:{:02d}Z"
TEST = ["--stage", "test", "--region", "us-east-1"]
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:nicelist-test-updates"
NEVER = {
    "not json": "body is not JSON",
    "version": "unknown envelope version",
    "bare": "invalid update",
    "packed": "invalid update",
    "refused": "rejected by DynamoDB",
}


def depth(stage: Stage, url: str) -> tuple[int, int]:
    keys = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = stage.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=keys)["Attributes"]
    return int(attributes[keys[0]]), int(attributes[keys[1]])


def drain(stage: Stage, url: str) -> list[dict[str, Any]]:
    found = []
    while batch := stage.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", []):
        found += batch
        for message in batch:
            stage.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def reasons(stage: Stage) -> list[str | None]:
    return [
        m.get("MessageAttributes", {}).get("nicelist-error", {}).get("StringValue")
        for m in stage.sqs.receive_message(
            QueueUrl=stage.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
        ).get("Messages", [])
    ]


def dead_letter_everything(stage: Stage) -> None:
    """Seven dead letters: five that can never be written, two that can."""
    bodies = ["not json", json.dumps({"v": 2, "updates": [status("c-1", AT.format(0))]})]
    bodies.append(json.dumps(location("c-2", AT.format(0), lat=95.0)))
    bodies.append(json.dumps(envelope(status("c-3", AT.format(0)), location("c-3", AT.format(1), lat=-91.0))))
    assert handle(sqs_event(*bodies), lambda_context(), stage.deps()) == {"batchItemFailures": []}
    refusing = stage.deps()
    Hooks(refusing.dynamodb).on("PutItem", lambda request: error("ValidationException"))
    assert handle(sqs_event(status("c-4", AT.format(0))), lambda_context(), refusing) == {"batchItemFailures": []}
    failing = on_fake_time(stage.deps(max_attempts=2), FakeTime())
    Hooks(failing.dynamodb).on("PutItem", lambda request: error("InternalServerError", 500))
    record = sqs_record(status("c-5", AT.format(0)), receive_count=4, attributes={"nicelist-stalled": "3"})
    assert handle({"Records": [record]}, lambda_context(), failing) == {"batchItemFailures": []}
    # what SQS's redrive policy moves carries no reason
    stage.sqs.send_message(QueueUrl=stage.dlq_url, MessageBody=json.dumps(status("c-6", AT.format(0))))
    assert depth(stage, stage.dlq_url) == (7, 0)


@pytest.fixture
def letters(stage: Stage) -> Stage:
    dead_letter_everything(stage)
    return stage


def test_the_writers_reasons_say_which_dead_letters_can_never_be_written(letters: Stage) -> None:
    verdicts = Counter(classify(reason).why for reason in reasons(letters))
    assert verdicts == Counter(
        {
            "body is not JSON": 1,
            "unknown envelope version": 1,
            "invalid update": 2,
            "rejected by DynamoDB": 1,
            "the writer gave up on server or connection errors": 1,
            "no reason: SQS moved it after maxReceiveCount": 1,
        }
    )
    assert sum(classify(reason).redrivable for reason in reasons(letters)) == 2


# --- peek ---------------------------------------------------------------------------------------


def test_peek_shows_the_count_each_message_had_and_leaves_them_all_visible(letters: Stage) -> None:
    first = peek(letters.sqs, letters.dlq_url, 100, show_bodies=False)
    second = peek(letters.sqs, letters.dlq_url, 100, show_bodies=False)
    assert len(first) == len(second) == 7
    assert {d.receive_count for d in first} == {0} and {d.receive_count for d in second} == {1}
    assert all(d.body is None for d in second)
    assert depth(letters, letters.dlq_url) == (7, 0)


def test_peek_costs_no_update_a_delivery_attempt() -> None:
    """The claim in nicelist/dlq.py: the DLQ has no redrive policy, and a redriven message starts at 0."""
    from moto import mock_aws  # noqa: PLC0415

    with mock_aws():
        clients = Clients.create(region="us-east-1")
        result = provision_stage("peek", clients, ProvisionOptions())
        # GIVEN a provisioned stage: its DLQ has no redrive policy, so receive counts there move nothing
        assert redrive_policy(clients.sqs, result.dlq_url) is None
        clients.sqs.send_message(QueueUrl=result.dlq_url, MessageBody=json.dumps(status("c-1", AT.format(0))))
        # WHEN it is peeked five times (more than maxReceiveCount) and then redriven
        for _ in range(5):
            assert len(peek(clients.sqs, result.dlq_url, 10, show_bodies=False)) == 1
        report = redrive(clients.sqs, StageNames("peek"), "copy", None)
        assert report.moved == 1
        # THEN the update arrives in the queue as a first delivery
        [message] = clients.sqs.receive_message(QueueUrl=result.queue_url, AttributeNames=["All"])["Messages"]
        assert message["Attributes"]["ApproximateReceiveCount"] == "1"


def test_peek_command_prints_reasons_and_verdicts_not_bodies(letters: Stage) -> None:
    out = CliRunner().invoke(main, ["dlq", "peek", *TEST, "--max-messages", "20"])
    assert out.exit_code == 0, out.output
    assert out.output.count("never") == 5 and out.output.count("redrivable") == 2
    assert "body is not valid JSON" in out.output and "c-2" not in out.output


# --- redrive -------------------------------------------------------------------------------------


def test_redrive_leaves_what_can_never_be_written_and_says_why(letters: Stage) -> None:
    # WHEN redriving with the defaults
    out = CliRunner().invoke(main, ["dlq", "redrive", *TEST, "--json"])
    # THEN the two valid ones are back in the queue, the five others still (and visibly) in the DLQ
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert (report["method"], report["at_start"], report["moved"], report["left_total"]) == (
        "receive-send-delete", 7, 2, 5,
    )  # fmt: skip
    assert report["left"] == dict(Counter(NEVER.values()))
    assert depth(letters, letters.dlq_url) == (5, 0)
    moved = sorted(u.child_id for m in drain(letters, letters.queue_url) for u in parse_body(m["Body"]).updates)
    assert moved == ["c-5", "c-6"]
    plain = CliRunner().invoke(main, ["dlq", "redrive", *TEST])
    assert "left 5 in the DLQ: 1 body is not JSON, 2 invalid update, 1 rejected by DynamoDB" in plain.stdout


def test_redrive_with_a_reason_moves_only_those(letters: Stage) -> None:
    out = CliRunner().invoke(main, ["dlq", "redrive", *TEST, "--reason", "SERVER OR CONNECTION", "--json"])
    report = json.loads(out.stdout)
    assert (report["moved"], report["left"]) == (1, {"reason does not match": 6})
    assert depth(letters, letters.dlq_url) == (6, 0)


def test_redrive_moves_what_the_dlq_held_once_while_the_writer_dead_letters_it_again(letters: Stage) -> None:
    # GIVEN the writer racing the redrive: every message sent back is processed at once, and the five
    # invalid ones dead-lettered again (as new messages). This looped without end ("moved: 8,671").
    deps = letters.deps()

    def writer_runs(**_: Any) -> None:
        messages = letters.sqs.receive_message(
            QueueUrl=letters.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if messages:
            handle(dict(lambda_event(messages, QUEUE_ARN, "us-east-1")), lambda_context(), deps)
            for m in messages:
                letters.sqs.delete_message(QueueUrl=letters.queue_url, ReceiptHandle=m["ReceiptHandle"])

    letters.sqs.meta.events.register("after-call.sqs.SendMessageBatch", writer_runs)
    # WHEN redriving everything, one message at a time
    report = redrive(letters.sqs, StageNames("test"), "auto", None, Selection(everything=True), rate=1000, wait=0)
    # THEN each of the seven moved once, and the run ended
    assert (report.moved, report.left_total, report.failed) == (7, 0, 0)
    # the four invalid ones are dead-lettered anew, for a later decision (DynamoDB takes c-4 this time)
    assert report.in_dlq_now == 4
    assert "StartMessageMoveTask not implemented" in report.notes[0]


def test_an_interrupted_redrive_loses_nothing_and_a_second_run_continues(stage: Stage) -> None:
    bodies = [json.dumps(status(f"c-{i}", AT.format(0))) for i in range(25)]
    for body in bodies:
        stage.sqs.send_message(QueueUrl=stage.dlq_url, MessageBody=body)
    progressed: list[int] = []
    # WHEN the first run is stopped (Ctrl-C) after its first batch
    first = redrive_by_copy(
        stage.sqs,
        stage.dlq_url,
        stage.queue_url,
        wait=0,
        stop=lambda: bool(progressed),
        progress=lambda report: progressed.append(report.moved),
    )
    assert (first.moved, first.interrupted) == (10, True)
    assert depth(stage, stage.dlq_url) == (15, 0)
    # THEN a second run moves the rest, and every update is in the queue exactly once
    second = redrive_by_copy(stage.sqs, stage.dlq_url, stage.queue_url, wait=0)
    assert (second.at_start, second.moved, second.interrupted) == (15, 15, False)
    assert sorted(m["Body"] for m in drain(stage, stage.queue_url)) == sorted(bodies)


class Killed(BaseException):
    """The process dies here (SIGKILL): nothing after this line of the redrive runs."""


def test_a_redrive_killed_between_send_and_delete_duplicates_and_never_loses(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("nicelist.redrive.IN_FLIGHT_SECONDS", 1)
    bodies = [json.dumps(status(f"c-{i}", AT.format(0))) for i in range(12)]
    for body in bodies:
        stage.sqs.send_message(QueueUrl=stage.dlq_url, MessageBody=body)

    def die(**_: Any) -> None:
        raise Killed

    # GIVEN a run killed after SQS confirmed its first batch, before the DLQ delete
    stage.sqs.meta.events.register("after-call.sqs.SendMessageBatch", die, unique_id="kill")
    with pytest.raises(Killed):
        redrive_by_copy(stage.sqs, stage.dlq_url, stage.queue_url, wait=0)
    stage.sqs.meta.events.unregister("after-call.sqs.SendMessageBatch", unique_id="kill")
    # WHEN it is run again at once: the killed batch is still invisible, the rest moves
    again = redrive_by_copy(stage.sqs, stage.dlq_url, stage.queue_url, wait=0)
    assert again.moved == 2 and "in flight at the start" in again.notes[0]
    # AND once more after the killed batch is visible again
    wall.sleep(1.2)
    last = redrive_by_copy(stage.sqs, stage.dlq_url, stage.queue_url, wait=0)
    assert last.moved == 10
    # THEN every update is in the queue; the killed batch twice (the writer absorbs duplicates)
    queued = Counter(m["Body"] for m in drain(stage, stage.queue_url))
    assert set(queued) == set(bodies) and sum(queued.values()) == 22
    assert depth(stage, stage.dlq_url) == (0, 0)


def test_a_rate_spaces_the_batches(stage: Stage) -> None:
    for i in range(7):
        stage.sqs.send_message(QueueUrl=stage.dlq_url, MessageBody=json.dumps(status(f"c-{i}", AT.format(0))))
    sizes: list[int] = []
    stage.sqs.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch", lambda params, **_: sizes.append(len(params["Entries"]))
    )
    clock = FakeClock(wall.time() + 1)  # the cutoff too: the dead letters were sent before it
    report = redrive_by_copy(stage.sqs, stage.dlq_url, stage.queue_url, rate=2, wait=0, clock=clock, sleep=clock.sleep)
    # 2 messages/s: batches of 2, each sent when the ones before it have had their second
    assert report.moved == 7 and sizes == [2, 2, 2, 1]
    assert [s for s in clock.sleeps if s] == [1.0, 1.0, 1.0]


def test_redrive_all_falls_back_to_copying_where_there_is_no_move_task(letters: Stage) -> None:
    out = CliRunner().invoke(main, ["dlq", "redrive", *TEST, "--all", "--json"])
    report = json.loads(out.stdout)
    assert (report["moved"], report["left_total"]) == (7, 0)
    assert "copying instead" in report["notes"][0]
    assert "redrive: " in out.stderr  # progress


def test_the_move_task_cannot_filter(letters: Stage) -> None:
    out = CliRunner().invoke(main, ["dlq", "redrive", *TEST, "--method", "move-task"])
    assert out.exit_code == 1 and "pass --all" in out.output
    assert CliRunner().invoke(main, ["dlq", "redrive", *TEST, "--all", "--reason", "x"]).exit_code == 2


# --- purge -----------------------------------------------------------------------------------------


def test_purge_asks_first_and_says_how_many(letters: Stage) -> None:
    declined = CliRunner().invoke(main, ["dlq", "purge", *TEST], input="n\n")
    assert declined.exit_code == 1 and "Delete the 7 dead letters" in declined.output
    assert depth(letters, letters.dlq_url) == (7, 0)
    accepted = CliRunner().invoke(main, ["dlq", "purge", *TEST], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "purged 7 dead letters from nicelist-test-updates-dlq" in accepted.output
    assert depth(letters, letters.dlq_url) == (0, 0)


def test_purge_yes_asks_nothing(letters: Stage) -> None:
    out = CliRunner().invoke(main, ["dlq", "purge", *TEST, "--yes", "--json"])
    assert out.exit_code == 0
    assert json.loads(out.output) == {"queue": "nicelist-test-updates-dlq", "purged": 7}
    again = CliRunner().invoke(main, ["dlq", "purge", *TEST, "--yes"])
    assert again.exit_code == 0 and "purged 0" in again.output


def test_every_dlq_command_has_help() -> None:
    for command in (["peek"], ["redrive"], ["purge"]):
        out = CliRunner().invoke(main, ["dlq", *command, "--help"])
        assert out.exit_code == 0 and "--stage" in out.output and "--json" in out.output
