"""provision_stage against moto in-process: every resource, idempotence, drift repair, partitions."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from nicelist.cli import main
from nicelist.provision import Clients, ProvisionError, ProvisionOptions, provision_stage
from writer.settings import deadline_margin_seconds


@pytest.fixture
def clients() -> Iterator[Clients]:
    with mock_aws():
        yield Clients.create(region="us-east-1")


def _queue_attributes(clients: Clients, name: str) -> dict[str, str]:
    url = clients.sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return dict(clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def test_creates_every_resource_with_the_contracted_attributes(clients: Clients) -> None:
    # GIVEN an empty account WHEN the stage is provisioned
    result = provision_stage("dev", clients, ProvisionOptions(writer_timeout=90, write_capacity=40))

    # THEN the queue redrives to the DLQ, with visibility 6 x the writer timeout and long polling
    queue = _queue_attributes(clients, "nicelist-dev-updates")
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == result.dlq_arn
    assert int(redrive["maxReceiveCount"]) == 5
    assert queue["VisibilityTimeout"] == "540"
    assert queue["ReceiveMessageWaitTimeSeconds"] == "20"
    assert queue["MessageRetentionPeriod"] == str(4 * 86400)
    assert _queue_attributes(clients, "nicelist-dev-updates-dlq")["MessageRetentionPeriod"] == str(14 * 86400)
    # AND the table has the contract's keys, the write budget as WCU, and TTL on expires_at
    table = clients.dynamodb.describe_table(TableName="nicelist-dev")["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
        ("child_id", "HASH"),
        ("sk", "RANGE"),
    }
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 40
    ttl = clients.dynamodb.describe_time_to_live(TableName="nicelist-dev")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    # AND the write-rate parameter starts at the table's WCU
    assert clients.ssm.get_parameter(Name="/nicelist/dev/write-rate")["Parameter"]["Value"] == "40"
    # AND six alarms notify the alarm topic and ignore missing data
    alarms = clients.cloudwatch.describe_alarms(AlarmNamePrefix="nicelist-dev-")["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == sorted(result.alarm_names)
    assert {a["AlarmName"].removeprefix("nicelist-dev-") for a in alarms} == {
        "queue-age",
        "dlq-not-empty",
        "table-write-throttles",
        "writer-errors",
        "writer-throttles",
        "updates-dead-lettered",
    }
    assert all(a["AlarmActions"] == [result.topic_arn] for a in alarms)
    assert all(a["TreatMissingData"] == "notBreaching" for a in alarms)
    dlq_alarm = next(a for a in alarms if a["AlarmName"] == "nicelist-dev-dlq-not-empty")
    assert dlq_alarm["Dimensions"] == [{"Name": "QueueName", "Value": "nicelist-dev-updates-dlq"}]
    assert (dlq_alarm["Threshold"], dlq_alarm["ComparisonOperator"]) == (0.0, "GreaterThanThreshold")
    assert result.topic_arn.endswith(":nicelist-dev-alarms")
    assert {a.action for a in result.actions} <= {"created", "updated"}


def test_rerunning_changes_nothing(clients: Clients) -> None:
    provision_stage("dev", clients)
    again = provision_stage("dev", clients)
    assert again.changed() == []
    assert len(again.actions) == 13  # 11 resources, the auto scaling outcome and the CloudWatch dashboard


def test_rerunning_repairs_drift(clients: Clients) -> None:
    # GIVEN a provisioned stage whose redrive policy, visibility, alarm and capacity were changed by hand
    first = provision_stage("dev", clients)
    clients.sqs.set_queue_attributes(
        QueueUrl=first.queue_url,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": first.dlq_arn, "maxReceiveCount": 1}),
            "VisibilityTimeout": "30",
        },
    )
    clients.cloudwatch.delete_alarms(AlarmNames=["nicelist-dev-writer-errors"])
    clients.cloudwatch.put_metric_alarm(
        **{
            "AlarmName": "nicelist-dev-queue-age",
            "MetricName": "ApproximateAgeOfOldestMessage",
            "Namespace": "AWS/SQS",
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 99999.0,
            "ComparisonOperator": "GreaterThanThreshold",
        }
    )
    clients.dynamodb.update_table(
        TableName="nicelist-dev", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 1}
    )
    # WHEN provisioning runs again
    again = provision_stage("dev", clients)
    # THEN each drifted resource is reported and repaired
    changed = {(a.resource, a.name, a.action) for a in again.changed()}
    assert changed == {
        ("queue", "nicelist-dev-updates", "updated"),
        ("alarm", "nicelist-dev-writer-errors", "created"),
        ("alarm", "nicelist-dev-queue-age", "updated"),
        ("table", "nicelist-dev", "updated"),
    }
    queue = _queue_attributes(clients, "nicelist-dev-updates")
    assert int(json.loads(queue["RedrivePolicy"])["maxReceiveCount"]) == 5
    assert queue["VisibilityTimeout"] == "360"
    table = clients.dynamodb.describe_table(TableName="nicelist-dev")["Table"]
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 100


def test_reprovisioning_never_resets_an_operators_write_rate(clients: Clients) -> None:
    provision_stage("dev", clients)
    clients.ssm.put_parameter(Name="/nicelist/dev/write-rate", Value="37", Type="String", Overwrite=True)

    kept = provision_stage("dev", clients, ProvisionOptions(write_capacity=500))
    assert kept.write_rate == 37
    assert clients.ssm.get_parameter(Name="/nicelist/dev/write-rate")["Parameter"]["Value"] == "37"

    explicit = provision_stage("dev", clients, ProvisionOptions(write_rate=250))
    assert explicit.write_rate == 250
    assert clients.ssm.get_parameter(Name="/nicelist/dev/write-rate")["Parameter"]["Value"] == "250"


def test_on_demand_table(clients: Clients) -> None:
    provision_stage("dev", clients, ProvisionOptions(on_demand=True))
    table = clients.dynamodb.describe_table(TableName="nicelist-dev")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert provision_stage("dev", clients, ProvisionOptions(on_demand=True)).changed() == []


def test_alarm_email_is_subscribed_once(clients: Clients) -> None:
    options = ProvisionOptions(alarm_email="elf-ops@example.org")
    provision_stage("dev", clients, options)
    again = provision_stage("dev", clients, options)
    topic = again.topic_arn
    subscriptions = clients.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Endpoint"] for s in subscriptions] == ["elf-ops@example.org"]


def test_china_partition_arns_come_from_aws() -> None:
    with mock_aws():
        result = provision_stage("prod", Clients.create(region="cn-north-1"))
    for arn in (result.queue_arn, result.dlq_arn, result.table_arn, result.topic_arn):
        assert arn.startswith("arn:aws-cn:"), arn


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_receive_count": 3}, "max_receive_count"),
        ({"writer_timeout": 901}, "writer_timeout"),
        ({"writer_timeout": 4}, "needs 5 to write at all"),  # the writer would stop before it started
        ({"dlq_retention": 3600}, "dlq_retention"),
        ({"write_rate": 0}, "write_rate"),
    ],
)
def test_refuses_options_that_break_the_design(options: dict[str, int], message: str) -> None:
    with pytest.raises(ProvisionError, match=message):
        ProvisionOptions(**options)  # type: ignore[arg-type]


def test_the_shortest_writer_timeout_still_writes() -> None:
    shortest = ProvisionOptions(writer_timeout=5).writer_timeout
    assert shortest - deadline_margin_seconds(shortest) == 1


def test_cli_provisions_and_prints_json(clients: Clients) -> None:
    runner = CliRunner()
    args = ["provision", "--stage", "cli", "--region", "us-east-1", "--write-rate", "75", "--json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["write_rate"] == 75
    assert data["queue_url"].endswith("/nicelist-cli-updates")
    assert (
        boto3.client("ssm", region_name="us-east-1").get_parameter(Name="/nicelist/cli/write-rate")["Parameter"][
            "Value"
        ]
        == "75"
    )


def test_cli_rejects_a_low_max_receive_count(clients: Clients) -> None:
    result = CliRunner().invoke(main, ["provision", "--stage", "cli", "--max-receive-count", "2"])
    assert result.exit_code == 2
    assert "max-receive-count" in result.output
