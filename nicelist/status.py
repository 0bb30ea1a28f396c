"""``nicelist status``: one look at a stage during a peak: backlog, its age, the DLQ, the table,
the drain rate and the alarms. Exits 1 when something needs a person, 2 when resources are missing."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import click
from botocore.exceptions import ClientError

from contract.names import StageNames
from nicelist.alarms import AlarmThresholds, alarm_specs
from nicelist.console import aws_errors, emit, error_code
from nicelist.options import AwsTarget, aws_options
from nicelist.resources import find_queue_url


@dataclass(frozen=True, slots=True)
class StageStatus:
    stage: str
    visible: int | None
    in_flight: int | None
    oldest_age_seconds: float | None  # None: CloudWatch has no datapoint (idle queue, or moto)
    dlq_visible: int | None
    table_items: int | None  # DynamoDB's estimate, refreshed about every six hours
    write_rate: str | None
    alarms: dict[str, str]
    missing: list[str]

    @property
    def healthy(self) -> bool:
        return not self.dlq_visible and "ALARM" not in self.alarms.values()


def _queue_depth(sqs: Any, name: str, missing: list[str]) -> tuple[int | None, int | None]:
    url = find_queue_url(sqs, name)
    if url is None:
        missing.append(name)
        return None, None
    keys = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=keys)["Attributes"]
    return int(attributes[keys[0]]), int(attributes[keys[1]])


def _oldest_age(cloudwatch: Any, queue: str) -> float | None:
    end = dt.datetime.now(dt.UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": queue}],
        StartTime=end - dt.timedelta(minutes=10),
        EndTime=end,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    if not points:
        return None
    return float(max(points, key=lambda p: p["Timestamp"])["Maximum"])


def _table_items(dynamodb: Any, name: str, missing: list[str]) -> int | None:
    try:
        return int(dynamodb.describe_table(TableName=name)["Table"].get("ItemCount", 0))
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        missing.append(name)
        return None


def _write_rate(ssm: Any, name: str, missing: list[str]) -> str | None:
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as error:
        if error_code(error) != "ParameterNotFound":
            raise
        missing.append(name)
        return None


def stage_status(target: AwsTarget) -> StageStatus:
    """Read everything ``nicelist status`` shows; nothing here writes."""
    names = StageNames(target.stage)
    missing: list[str] = []
    visible, in_flight = _queue_depth(target.client("sqs"), names.queue, missing)
    dlq_visible, _ = _queue_depth(target.client("sqs"), names.dlq, missing)
    cloudwatch = target.client("cloudwatch")
    expected = [spec["AlarmName"] for spec in alarm_specs(names, "", AlarmThresholds())]
    # By exact name: a prefix would also match a stage called "<stage>-something".
    alarms = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms(AlarmNames=expected)["MetricAlarms"]}
    missing += [name for name in expected if name not in alarms]
    return StageStatus(
        stage=target.stage,
        visible=visible,
        in_flight=in_flight,
        oldest_age_seconds=_oldest_age(cloudwatch, names.queue),
        dlq_visible=dlq_visible,
        table_items=_table_items(target.client("dynamodb"), names.table, missing),
        write_rate=_write_rate(target.client("ssm"), names.write_rate_parameter, missing),
        alarms=alarms,
        missing=missing,
    )


def _lines(status: StageStatus) -> list[str]:
    age = "unknown" if status.oldest_age_seconds is None else f"{status.oldest_age_seconds:.0f} s"
    lines = [
        f"stage          {status.stage}",
        f"queue          {status.visible} visible, {status.in_flight} in flight, oldest {age}",
        f"dead letters   {status.dlq_visible}",
        f"table items    {status.table_items} (estimate)",
        f"write rate     {status.write_rate} WCU/s",
    ]
    lines += [f"alarm          {state:<17} {name}" for name, state in sorted(status.alarms.items())]
    lines += [f"MISSING        {name}" for name in status.missing]
    return lines


@click.command("status")
@aws_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(target: AwsTarget, as_json: bool) -> None:
    """Show queue depth and age, DLQ depth, table size, write rate and alarm states.

    Exit code 0: healthy; 1: DLQ not empty or an alarm firing; 2: resources missing."""
    with aws_errors():
        status = stage_status(target)
    emit({**asdict(status), "healthy": status.healthy}, as_json=as_json, lines=_lines(status))
    if status.missing:
        raise SystemExit(2)
    if not status.healthy:
        raise SystemExit(1)
