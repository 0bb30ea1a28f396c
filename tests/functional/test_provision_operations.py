"""The operator commands on a provisioned stage: status, rate, dlq peek and redrive (moto in-process)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner
from moto import mock_aws
from rich.console import Console

from contract.names import StageNames
from nicelist.cli import main
from nicelist.dlq import RedriveError, redrive, redrive_by_copy
from nicelist.options import AwsTarget
from nicelist.provision import Clients, ProvisionOptions, ProvisionResult, provision_stage
from nicelist.status import stage_status, watch_status

STAGE = ["--stage", "ops", "--region", "us-east-1"]


@pytest.fixture
def stage() -> Iterator[tuple[Clients, ProvisionResult]]:
    with mock_aws():
        clients = Clients.create(region="us-east-1")
        yield clients, provision_stage("ops", clients, ProvisionOptions(write_capacity=300))


def _dead_letters(clients: Clients, result: ProvisionResult, count: int) -> None:
    for i in range(count):
        clients.sqs.send_message(
            QueueUrl=result.dlq_url,
            MessageBody=json.dumps({"n": i}),
            MessageAttributes={
                "nicelist-error": {"DataType": "String", "StringValue": f"bad envelope {i}"},
                "origin": {"DataType": "String", "StringValue": "sdk"},
            },
        )


def _depth(clients: Clients, url: str) -> int:
    attributes = clients.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _bodies(clients: Clients, url: str) -> list[dict[str, Any]]:
    messages = clients.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
    ).get("Messages", [])
    return [{"body": m["Body"], "attributes": set(m.get("MessageAttributes", {}))} for m in messages]


def test_status_healthy_stage(stage: tuple[Clients, ProvisionResult]) -> None:
    clients, result = stage
    clients.sqs.send_message(QueueUrl=result.queue_url, MessageBody="{}")
    out = CliRunner().invoke(main, ["status", *STAGE, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert (data["visible"], data["in_flight"], data["dlq_visible"]) == (1, 0, 0)
    assert data["write_budget"] == 300
    assert len(data["alarms"]) == 6
    assert data["healthy"] is True


def test_status_exits_1_when_the_dlq_has_messages(stage: tuple[Clients, ProvisionResult]) -> None:
    clients, result = stage
    _dead_letters(clients, result, 1)
    out = CliRunner().invoke(main, ["status", *STAGE])
    assert out.exit_code == 1
    assert "dead letters   1" in out.output


def test_status_exits_2_when_the_stage_is_missing(stage: tuple[Clients, ProvisionResult]) -> None:
    out = CliRunner().invoke(main, ["status", "--stage", "nowhere", "--region", "us-east-1"])
    assert out.exit_code == 2
    assert "MISSING        nicelist-nowhere-updates" in out.output


def test_rate_get_and_set(stage: tuple[Clients, ProvisionResult]) -> None:
    clients, _ = stage
    runner = CliRunner()
    assert runner.invoke(main, ["rate", *STAGE]).output.strip() == "300 WCU/s"
    out = runner.invoke(main, ["rate", "250", *STAGE, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {
        "parameter": "/nicelist/ops/write-rate",
        "previous": "300",
        "rate": 250.0,
    }
    assert clients.ssm.get_parameter(Name="/nicelist/ops/write-rate")["Parameter"]["Value"] == "250"


def test_rate_refuses_more_than_the_table_can_take(stage: tuple[Clients, ProvisionResult]) -> None:
    clients, _ = stage
    runner = CliRunner()
    refused = runner.invoke(main, ["rate", "301", *STAGE])
    assert refused.exit_code == 1
    assert "exceeds the table's 300 WCU" in refused.output
    assert clients.ssm.get_parameter(Name="/nicelist/ops/write-rate")["Parameter"]["Value"] == "300"
    assert runner.invoke(main, ["rate", "301", "--force", *STAGE]).exit_code == 0
    assert runner.invoke(main, ["rate", "-5", *STAGE]).exit_code == 2
    assert runner.invoke(main, ["rate", "fast", *STAGE]).exit_code == 2


def test_dlq_peek_shows_reasons_not_bodies(stage: tuple[Clients, ProvisionResult]) -> None:
    clients, result = stage
    _dead_letters(clients, result, 3)
    out = CliRunner().invoke(main, ["dlq", "peek", *STAGE])
    assert out.exit_code == 0, out.output
    assert "bad envelope 0" in out.output and "bad envelope 2" in out.output
    assert '"n"' not in out.output
    # peeking leaves every message in the DLQ, visible again
    assert _depth(clients, result.dlq_url) == 3
    with_bodies = CliRunner().invoke(main, ["dlq", "peek", *STAGE, "--show-bodies", "--json"])
    assert sorted(d["body"] for d in json.loads(with_bodies.output)) == [f'{{"n": {i}}}' for i in range(3)]


def test_dlq_redrive_moves_everything_back(stage: tuple[Clients, ProvisionResult]) -> None:
    # moto does not implement StartMessageMoveTask: auto falls back to receive/send/delete
    clients, result = stage
    _dead_letters(clients, result, 13)
    out = CliRunner().invoke(main, ["dlq", "redrive", *STAGE, "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)  # progress goes to stderr
    assert (report["method"], report["moved"], report["failed"]) == ("receive-send-delete", 13, 0)
    assert _depth(clients, result.dlq_url) == 0
    assert _depth(clients, result.queue_url) == 13
    moved = _bodies(clients, result.queue_url)
    assert all(m["attributes"] == {"origin"} for m in moved)  # the DLQ reason is dropped, the rest kept


def test_redrive_never_deletes_what_failed_to_send(stage: tuple[Clients, ProvisionResult]) -> None:
    # GIVEN 4 dead letters and a send that fails for entries 1 and 3 (an event hook: moto never fails)
    clients, result = stage
    _dead_letters(clients, result, 4)

    def fail_two(params: dict[str, Any], **_: Any) -> None:
        params["Entries"] = [e for e in params["Entries"] if e["Id"] not in {"1", "3"}]

    sent_ids: list[str] = []

    def report_two_failed(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Failed"] = [{"Id": i, "SenderFault": False, "Code": "InternalError"} for i in ("1", "3")]
        sent_ids.extend(ok["Id"] for ok in parsed.get("Successful", []))

    events = clients.sqs.meta.events
    events.register("provide-client-params.sqs.SendMessageBatch", fail_two)
    events.register("after-call.sqs.SendMessageBatch", report_two_failed)
    # WHEN redriving
    report = redrive_by_copy(clients.sqs, result.dlq_url, result.queue_url, wait=0)
    # THEN 2 moved, 2 failed, and the 2 failures are still in the DLQ
    assert (report.moved, report.failed) == (2, 2)
    assert _depth(clients, result.queue_url) == 2
    assert _depth(clients, result.dlq_url) == 2


def test_redrive_keeps_the_batch_when_the_send_raises(stage: tuple[Clients, ProvisionResult]) -> None:
    clients, result = stage
    _dead_letters(clients, result, 3)
    with Stubber(clients.sqs) as stubber:
        received = clients.sqs  # the stub replaces every call: receive first, then a failing send
        messages = [{"MessageId": f"m{i}", "ReceiptHandle": f"h{i}", "Body": "{}", "MD5OfBody": "x"} for i in range(3)]
        depth = {"ApproximateNumberOfMessages": "3", "ApproximateNumberOfMessagesNotVisible": "0"}
        stubber.add_response("get_queue_attributes", {"Attributes": depth})
        stubber.add_response("receive_message", {"Messages": messages})
        stubber.add_client_error("send_message_batch", "ServiceUnavailable", http_status_code=503)
        with pytest.raises(RedriveError, match="stay in the DLQ"):
            redrive_by_copy(received, result.dlq_url, result.queue_url, wait=0)
        stubber.assert_no_pending_responses()  # no delete_message_batch was attempted
    assert _depth(clients, result.dlq_url) == 3


def test_redrive_prefers_the_move_task_on_aws(stage: tuple[Clients, ProvisionResult]) -> None:
    # StartMessageMoveTask is stubbed: moto does not implement it
    clients, result = stage
    names = StageNames("ops")
    with Stubber(clients.sqs) as stubber:
        stubber.add_response("get_queue_url", {"QueueUrl": result.dlq_url}, {"QueueName": names.dlq})
        stubber.add_response("get_queue_url", {"QueueUrl": result.queue_url}, {"QueueName": names.queue})
        for arn in (result.dlq_arn, result.queue_arn):
            stubber.add_response("get_queue_attributes", {"Attributes": {"QueueArn": arn}})
        depth = {"ApproximateNumberOfMessages": "7", "ApproximateNumberOfMessagesNotVisible": "0"}
        stubber.add_response("get_queue_attributes", {"Attributes": depth})
        stubber.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {"SourceArn": result.dlq_arn, "DestinationArn": result.queue_arn},
        )
        report = redrive(clients.sqs, names, "auto", None)
    assert (report.method, report.task_handle, report.at_start) == ("move-task", "task-1", 7)


def test_redrive_move_task_only_fails_loudly_on_moto(stage: tuple[Clients, ProvisionResult]) -> None:
    out = CliRunner().invoke(main, ["dlq", "redrive", *STAGE, "--all", "--method", "move-task"])
    assert out.exit_code == 1
    assert "not implemented" in out.output


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for command in (["provision"], ["status"], ["rate"], ["dlq"], ["dlq", "peek"], ["dlq", "redrive"]):
        out = runner.invoke(main, [*command, "--help"])
        assert out.exit_code == 0, command
        assert "--stage" in out.output or command == ["dlq"], command


def test_status_reports_a_missing_alarm_and_ignores_other_stages(stage: tuple[Clients, ProvisionResult]) -> None:
    clients, _ = stage
    provision_stage("ops-canary", clients)  # its alarms share the "nicelist-ops-" prefix
    clients.cloudwatch.delete_alarms(AlarmNames=["nicelist-ops-writer-errors"])
    out = CliRunner().invoke(main, ["status", *STAGE, "--json"])
    assert out.exit_code == 2
    data = json.loads(out.output)
    assert data["missing"] == ["nicelist-ops-writer-errors"]
    assert len(data["alarms"]) == 5


def _writer_logged(clients: Clients, batches: list[tuple[int, int]]) -> None:
    """The writer's ``batch done`` lines in its CloudWatch log group, as Lambda would ship them."""
    logs = boto3.client("logs", region_name="us-east-1")
    group = f"/aws/lambda/{StageNames('ops').writer_function}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/12/23/[$LATEST]abc")
    now_ms = int(time.time() * 1000)
    events = [
        {"timestamp": now_ms - 1000 * (len(batches) - i), "message": json.dumps(
            {"level": "INFO", "message": "batch done", "messages": messages, "updates": updates}
        )}
        for i, (messages, updates) in enumerate(batches)
    ]  # fmt: skip
    logs.put_log_events(logGroupName=group, logStreamName="2026/12/23/[$LATEST]abc", logEvents=events)


def test_status_estimates_the_drain_from_the_backlog_and_the_writers_logs(
    stage: tuple[Clients, ProvisionResult],
) -> None:
    clients, result = stage
    for _ in range(6):
        clients.sqs.send_message(QueueUrl=result.queue_url, MessageBody="{}")
    clients.sqs.send_message(QueueUrl=result.queue_url, MessageBody="{}", DelaySeconds=600)
    _writer_logged(clients, [(10, 4_000), (10, 6_000)])
    data = json.loads(CliRunner().invoke(main, ["status", *STAGE, "--json"]).output)
    assert (data["visible"], data["delayed"], data["backlog"]) == (6, 1, 7)
    drain = data["drain"]
    assert drain["mix"] == {"updates_per_message": 500.0, "source": "writer logs", "messages_seen": 20, "note": ""}
    assert drain["rate_source"] == "budget"  # moto has no ConsumedWriteCapacityUnits datapoint
    assert drain["seconds"] == pytest.approx(7 * 500 * 1.375 / 300)
    given = json.loads(CliRunner().invoke(main, ["status", *STAGE, "--updates-per-message", "2", "--json"]).output)
    assert given["drain"]["seconds"] == pytest.approx(7 * 2 * 1.375 / 300)
    text = CliRunner().invoke(main, ["status", *STAGE]).output
    assert "drain estimate: 16.0 s = 7 messages x 500.0 updates/message (writer logs, 20 messages)" in text


def _draining(clients: Clients, url: str, refreshes: int) -> tuple[list[float], Any]:
    """A fake sleep: one message leaves the queue per refresh; Ctrl-C after ``refreshes``."""
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == refreshes:
            raise KeyboardInterrupt
        message = clients.sqs.receive_message(QueueUrl=url)["Messages"][0]
        clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return sleeps, sleep


def test_status_watch_prints_each_refresh_when_not_on_a_terminal(
    stage: tuple[Clients, ProvisionResult], capsys: pytest.CaptureFixture[str]
) -> None:
    clients, result = stage
    for _ in range(3):
        clients.sqs.send_message(QueueUrl=result.queue_url, MessageBody="{}")
    sleeps, sleep = _draining(clients, result.queue_url, 3)
    target = AwsTarget(stage="ops", region="us-east-1")
    last = watch_status(lambda: stage_status(target, updates_per_message=1), 1.0, Console(file=io.StringIO()), sleep)
    screens = capsys.readouterr().out.split("refreshed ")
    assert len(screens) == 4  # three refreshes, then Ctrl-C ended it quietly
    assert "3 visible" in screens[0] and "2 visible" in screens[1] and "1 visible" in screens[2]
    assert all("\n" not in line[:150] for line in screens[1].splitlines() if line.startswith("drain"))
    assert sleeps == [1.0, 1.0, 1.0] and last is not None and last.visible == 1


def test_status_watch_refreshes_in_place_on_a_terminal(stage: tuple[Clients, ProvisionResult]) -> None:
    clients, result = stage
    for _ in range(2):
        clients.sqs.send_message(QueueUrl=result.queue_url, MessageBody="{}")
    _, sleep = _draining(clients, result.queue_url, 2)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    last = watch_status(lambda: stage_status(AwsTarget(stage="ops", region="us-east-1")), 1.0, console, sleep)
    assert last is not None and last.visible == 1
    assert "\x1b[" in screen.getvalue()  # rich moved the cursor back to redraw in place
    assert "1 visible" in screen.getvalue()


def test_status_watch_json_is_a_line_per_refresh_and_exits_with_the_last_code(
    stage: tuple[Clients, ProvisionResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    clients, result = stage
    _dead_letters(clients, result, 1)
    clients.sqs.send_message(QueueUrl=result.queue_url, MessageBody="{}")
    _, sleep = _draining(clients, result.queue_url, 2)
    monkeypatch.setattr("nicelist.status._sleep", sleep)
    out = CliRunner().invoke(main, ["status", *STAGE, "--watch", "--json", "--interval", "1"])
    lines = out.output.splitlines()
    assert [json.loads(line)["visible"] for line in lines] == [1, 0]
    assert out.exit_code == 1  # the DLQ holds a dead letter: the last refresh was unhealthy
