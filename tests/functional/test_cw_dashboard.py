"""The CloudWatch dashboard ``nicelist-<stage>`` against moto in-process: created by provision, idempotent,
repaired, linked by status; every metric it draws is one the stage's resources or its writer publish."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from moto import mock_aws

from contract.names import StageNames
from nicelist.cli import main
from nicelist.cw_dashboard import console_link, dashboard_body, ensure_dashboard
from nicelist.provision import Clients, provision_stage
from writer.handler import _publish
from writer.observability import metrics
from writer.processor import BatchReport

# What each AWS namespace publishes, by the name each metric is published under (AWS documentation:
# SQS https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html,
# DynamoDB https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html,
# Lambda https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html).
AWS_METRICS = {
    "AWS/SQS": {
        "ApproximateAgeOfOldestMessage",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesVisible",
    },
    "AWS/DynamoDB": {"ConsumedWriteCapacityUnits", "ProvisionedWriteCapacityUnits", "WriteThrottleEvents"},
    "AWS/Lambda": {"Invocations", "Errors", "Throttles", "ConcurrentExecutions"},
}


@pytest.fixture
def clients() -> Iterator[Clients]:
    with mock_aws():
        yield Clients.create(region="eu-west-1")


def _body(clients: Clients, stage: str = "dev") -> dict[str, Any]:
    return dict(json.loads(clients.cloudwatch.get_dashboard(DashboardName=f"nicelist-{stage}")["DashboardBody"]))


def _metric_rows(body: dict[str, Any]) -> list[list[Any]]:
    return [
        row
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for row in widget["properties"]["metrics"]
        if isinstance(row[0], str)
    ]


def _writer_emf(stage: str) -> tuple[set[str], dict[str, str]]:
    """The metric names and dimensions the writer really emits, from its own EMF document."""
    metrics.set_default_dimensions(stage=stage)
    try:
        _publish(BatchReport(messages=1, updates=2, written=2, stats={"units": 3}), 0.5)
        document = metrics.serialize_metric_set()
    finally:
        metrics.clear_metrics()
        metrics.clear_default_dimensions()
    directive = document["_aws"]["CloudWatchMetrics"][0]
    names = {metric["Name"] for metric in directive["Metrics"]}
    return names, {name: document[name] for name in directive["Dimensions"][0]}


def test_provision_creates_a_dashboard_whose_every_metric_is_one_the_stage_publishes(clients: Clients) -> None:
    # GIVEN an empty account WHEN the stage is provisioned
    result = provision_stage("dev", clients)
    names = StageNames("dev")

    # THEN the dashboard exists, in the region of the clients, and was reported created
    assert any(a.resource == "dashboard" and a.action == "created" for a in result.actions)
    body = _body(clients)
    rows = _metric_rows(body)
    emitted, emf_dimensions = _writer_emf("dev")
    resource_of = {
        "QueueName": {names.queue, names.dlq},
        "TableName": {names.table},
        "FunctionName": {names.writer_function},
    }
    # AND every metric row names a metric its namespace publishes, with the stage's own dimensions
    for row in rows:
        namespace, metric, *rest = row
        pairs = rest[:-1] if rest and isinstance(rest[-1], dict) else rest
        dimensions = dict(zip(pairs[0::2], pairs[1::2], strict=True))
        if namespace == "nicelist":
            assert metric in emitted, f"the writer emits no {metric}"
            assert dimensions == emf_dimensions
        else:
            assert metric in AWS_METRICS[namespace], f"{namespace} publishes no {metric}"
            ((key, value),) = dimensions.items()
            assert value in resource_of[key], row
    # AND every panel of the issue is there
    titles = " | ".join(w["properties"].get("title", w["properties"].get("markdown")) for w in body["widgets"])
    for panel in ("Backlog", "oldest message", "Dead-letter", "capacity", "Throttles", "Drain", "Writer", "Alarms"):
        assert panel in titles
    for panel in ("/nicelist/dev/write-rate", "/nicelist/dev/writer-concurrency"):  # W and C
        assert panel in titles
    assert {w["properties"]["region"] for w in body["widgets"] if w["type"] == "metric"} == {"eu-west-1"}
    # AND the alarm widget holds the ARNs CloudWatch gives the stage's alarms
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    arns = {a["AlarmArn"] for a in clients.cloudwatch.describe_alarms(AlarmNames=result.alarm_names)["MetricAlarms"]}
    assert set(alarm_widget["properties"]["alarms"]) == arns and len(arns) == len(result.alarm_names)


def test_every_metric_math_id_an_expression_uses_is_defined_in_its_widget() -> None:
    for widget in dashboard_body(StageNames("dev"), "eu-west-1", [], 900.0)["widgets"]:
        if widget["type"] != "metric":
            continue
        rows = widget["properties"]["metrics"]
        ids = {row[-1]["id"] for row in rows if isinstance(row[-1], dict) and "id" in row[-1]}
        for row in rows:
            expression = row[0].get("expression") if isinstance(row[0], dict) else None
            if expression:
                used = set(re.findall(r"\b[me]_[a-z]+\b", expression))
                assert used and used <= ids, (expression, used - ids)


def test_rerunning_leaves_the_dashboard_alone_and_repairs_it_when_changed(clients: Clients) -> None:
    provision_stage("dev", clients)
    wanted = _body(clients)
    # WHEN provisioned again THEN the dashboard is unchanged
    again = provision_stage("dev", clients)
    assert [a.action for a in again.actions if a.resource == "dashboard"] == ["unchanged"]
    # WHEN someone edits it by hand THEN the next provision puts it back and says so
    clients.cloudwatch.put_dashboard(DashboardName="nicelist-dev", DashboardBody=json.dumps({"widgets": []}))
    repaired = provision_stage("dev", clients)
    assert [a.action for a in repaired.actions if a.resource == "dashboard"] == ["updated"]
    assert _body(clients) == wanted
    # AND a deleted one is created again
    clients.cloudwatch.delete_dashboards(DashboardNames=["nicelist-dev"])
    assert ensure_dashboard(clients.cloudwatch, "nicelist-dev", wanted).action == "created"
    assert _body(clients) == wanted


def test_status_prints_the_console_link(clients: Clients, monkeypatch: pytest.MonkeyPatch) -> None:
    provision_stage("dev", clients)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    done = CliRunner().invoke(main, ["status", "--stage", "dev", "--region", "eu-west-1"])
    assert done.exit_code == 0, done.output
    link = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=nicelist-dev"
    assert f"dashboard      {link}" in done.output.splitlines()
    assert console_link("eu-west-1", "dev") == link
    as_json = CliRunner().invoke(main, ["status", "--stage", "dev", "--region", "eu-west-1", "--json"])
    assert json.loads(as_json.output)["dashboard"] == link
