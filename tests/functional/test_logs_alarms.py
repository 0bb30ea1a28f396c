"""``nicelist logs --component alarms``: the local notifications log, and CloudWatch's alarm history on AWS."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

from nicelist.cli import main

NOTIFICATION = {
    "time": "2026-12-01T16:06:02.866+0000",
    "alarm": "nicelist-local-queue-age",
    "state": "ALARM",
    "previous": "OK",
    "reason": "Threshold Crossed: 3 out of the last 5 datapoints [...]",
    "subject": 'ALARM: "nicelist-local-queue-age" in US East (N. Virginia)',
    "topic": "arn:aws:sns:us-east-1:123456789012:nicelist-local-alarms",
}


def test_locally_the_notifications_are_a_component(tmp_path: Path) -> None:
    # GIVEN a run directory whose inbox logged one notification, and a writer line
    (tmp_path / "notifications.log").write_text(json.dumps(NOTIFICATION) + "\nnot json\n")
    (tmp_path / "writer.log").write_text(json.dumps({"level": "INFO", "message": "batch done",
                                                     "timestamp": "2026-12-01 16:06:00,000+0000"}) + "\n")  # fmt: skip
    arguments = ["logs", "--stage", "local", "--run-dir", str(tmp_path), "--since", "2026-12-01T16:00:00Z"]
    # WHEN the alarms are asked for THEN the notification is one line: state, alarm, previous state, reason
    alarms = CliRunner().invoke(main, [*arguments, "--component", "alarms", "--json"])
    assert alarms.exit_code == 0, alarms.output
    [line] = [json.loads(text) for text in alarms.output.splitlines()]
    assert (line["component"], line["level"], line["time"]) == ("alarms", "ALARM", "2026-12-01T16:06:02.866Z")
    assert (
        line["message"] == "nicelist-local-queue-age (was OK): Threshold Crossed: 3 out of the last 5 datapoints [...]"
    )
    # AND the default stays the writer and the API
    default = CliRunner().invoke(main, [*arguments, "--json"])
    assert [json.loads(text)["component"] for text in default.output.splitlines()] == ["writer"]


def test_on_aws_the_alarm_history_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN CloudWatch's history (moto does not implement DescribeAlarmHistory: stubbed) of the stage's alarms
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    stubber = Stubber(cloudwatch)
    at = dt.datetime(2026, 12, 1, 16, 6, 2, tzinfo=dt.UTC)
    data = {"newState": {"stateValue": "ALARM", "stateReason": "Threshold Crossed: 1 out of the last 3"},
            "oldState": {"stateValue": "OK"}}  # fmt: skip
    names = ["queue-age", "dlq-not-empty", "table-write-throttles", "writer-errors", "writer-throttles",
             "updates-dead-lettered"]  # fmt: skip
    for name in names:
        items: list[dict[str, Any]] = []
        if name == "table-write-throttles":
            items = [{"AlarmName": f"nicelist-ops-{name}", "Timestamp": at, "HistoryItemType": "StateUpdate",
                      "HistorySummary": "Alarm updated from OK to ALARM", "HistoryData": json.dumps(data)}]  # fmt: skip
        expected = {"AlarmName": f"nicelist-ops-{name}", "HistoryItemType": "StateUpdate", "StartDate": ANY,
                    "EndDate": ANY}  # fmt: skip
        stubber.add_response("describe_alarm_history", {"AlarmHistoryItems": items}, expected)
    stubber.activate()
    monkeypatch.setattr("nicelist.options.AwsTarget.client", lambda self, service: cloudwatch)
    # WHEN the alarms component is read for a deployed stage
    result = CliRunner().invoke(main, ["logs", "--stage", "ops", "--region", "us-east-1", "--component", "alarms",
                                       "--since", "2026-12-01T16:00:00Z", "--json"])  # fmt: skip
    # THEN the state change is a line, and every alarm's history was asked for
    assert result.exit_code == 0, result.output
    [line] = [json.loads(text) for text in result.output.splitlines()]
    assert (line["level"], line["message"]) == (
        "ALARM", "nicelist-ops-table-write-throttles (was OK): Threshold Crossed: 1 out of the last 3")  # fmt: skip
    stubber.assert_no_pending_responses()
