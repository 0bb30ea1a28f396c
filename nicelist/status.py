"""``nicelist status``: one look at a stage during a peak: backlog, its age, the DLQ, the table,
the writers' budget and the write rate the table actually sees, and the alarms. Exits 1 when
something needs a person, 2 when resources are missing.

The budget W (SSM ``/nicelist/<stage>/write-rate``) is what the writers may spend, not what they
spend: an idle queue spends nothing, a throttled table less. The measured rate is the mean WCU/s of
the last 60 s, from the local stack's meter when one answers (it counts every unit reaching the
table), else from CloudWatch's ``ConsumedWriteCapacityUnits`` (its newest one-minute sum / 60), else
unknown. Both sources mean the same thing, so one code path serves a deployed stage and the local one.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

import click
from botocore.exceptions import ClientError

from contract.names import StageNames
from nicelist.alarms import AlarmThresholds, alarm_specs
from nicelist.console import aws_errors, emit, error_code
from nicelist.options import AwsTarget, aws_options
from nicelist.resources import find_queue_url

LOCAL_METER_URL = "http://127.0.0.1:4567"  # nicelist up's default --meter-port
RATE_WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class StageStatus:
    stage: str
    visible: int | None
    in_flight: int | None
    oldest_age_seconds: float | None  # None: CloudWatch has no datapoint (idle queue, or moto)
    dlq_visible: int | None
    table_items: int | None  # DynamoDB's estimate, refreshed about every six hours
    table_write_capacity: int | None  # provisioned WCU; None: on-demand or missing
    write_budget: float | None  # W, WCU/s the writers share
    measured_write_rate: float | None  # WCU/s reaching the table, mean of the last 60 s; None: unknown
    measured_by: str | None  # "meter" | "cloudwatch" | None
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


def _table(dynamodb: Any, name: str, missing: list[str]) -> tuple[int | None, int | None]:
    """``(item count estimate, provisioned WCU or None)``."""
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        missing.append(name)
        return None, None
    on_demand = table.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    capacity = None if on_demand else table.get("ProvisionedThroughput", {}).get("WriteCapacityUnits")
    return int(table.get("ItemCount", 0)), None if capacity is None else int(capacity)


def _write_budget(ssm: Any, name: str, missing: list[str]) -> float | None:
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        if error_code(error) != "ParameterNotFound":
            raise
        missing.append(name)
        return None
    try:
        return float(value)
    except ValueError:
        return None  # the writers ignore it too and keep their last good value


def meter_rate(meter_url: str, table: str, window: int = RATE_WINDOW_SECONDS) -> float | None:
    """Mean WCU/s of ``table`` over the last ``window`` complete seconds, per the local meter; None when
    no meter answers. A table the meter has not seen written is at 0."""
    url = f"{meter_url.rstrip('/')}/_meter/stats?seconds={window + 1}"
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 - the operator's own meter
            stats = json.loads(response.read())
    except (OSError, ValueError):
        return None
    series = stats.get("tables", {}).get(table, {}).get("series", [])[:-1]  # the current second is not over
    return round(sum(float(second["units"]) for second in series) / window, 1)


def cloudwatch_rate(cloudwatch: Any, table: str) -> float | None:
    """The newest one-minute ``ConsumedWriteCapacityUnits`` sum as WCU/s (CloudWatch lags 1-2 minutes)."""
    end = dt.datetime.now(dt.UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/DynamoDB",
        MetricName="ConsumedWriteCapacityUnits",
        Dimensions=[{"Name": "TableName", "Value": table}],
        StartTime=end - dt.timedelta(minutes=5),
        EndTime=end,
        Period=RATE_WINDOW_SECONDS,
        Statistics=["Sum"],
    )["Datapoints"]
    if not points:
        return None
    newest = max(points, key=lambda p: p["Timestamp"])
    return round(float(newest["Sum"]) / RATE_WINDOW_SECONDS, 1)


def measured_rate(target: AwsTarget, table: str, meter_url: str | None) -> tuple[float | None, str | None]:
    if meter_url:
        rate = meter_rate(meter_url, table)
        if rate is not None:
            return rate, "meter"
    rate = cloudwatch_rate(target.client("cloudwatch"), table)
    return (rate, "cloudwatch") if rate is not None else (None, None)


def stage_status(target: AwsTarget, meter_url: str | None = None) -> StageStatus:
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
    items, capacity = _table(target.client("dynamodb"), names.table, missing)
    measured, measured_by = measured_rate(target, names.table, meter_url)
    return StageStatus(
        stage=target.stage,
        visible=visible,
        in_flight=in_flight,
        oldest_age_seconds=_oldest_age(cloudwatch, names.queue),
        dlq_visible=dlq_visible,
        table_items=items,
        table_write_capacity=capacity,
        write_budget=_write_budget(target.client("ssm"), names.write_rate_parameter, missing),
        measured_write_rate=measured,
        measured_by=measured_by,
        alarms=alarms,
        missing=missing,
    )


def _wcu(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g} WCU/s"


def _lines(status: StageStatus) -> list[str]:
    age = "unknown" if status.oldest_age_seconds is None else f"{status.oldest_age_seconds:.0f} s"
    capacity = "" if status.table_write_capacity is None else f"; table capacity {status.table_write_capacity} WCU"
    if status.measured_write_rate is None:
        measured = "unknown (no meter answers, and CloudWatch has no ConsumedWriteCapacityUnits datapoint)"
    else:
        measured = f"{_wcu(status.measured_write_rate)} measured ({status.measured_by}, mean of the last 60 s)"
    lines = [
        f"stage          {status.stage}",
        f"queue          {status.visible} visible, {status.in_flight} in flight, oldest {age}",
        f"dead letters   {status.dlq_visible}",
        f"table items    {status.table_items} (estimate)",
        f"write budget   {_wcu(status.write_budget)} (W, shared by the writers){capacity}",
        f"write rate     {measured}",
    ]
    lines += [f"alarm          {state:<17} {name}" for name, state in sorted(status.alarms.items())]
    lines += [f"MISSING        {name}" for name in status.missing]
    return lines


@click.command("status")
@aws_options
@click.option(
    "--meter-url",
    envvar="NICELIST_METER_URL",
    default=None,
    help=f"The local stack's DynamoDB meter (default for --stage local: {LOCAL_METER_URL}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(target: AwsTarget, meter_url: str | None, as_json: bool) -> None:
    """Show queue depth and age, DLQ depth, table size, the write budget and the measured write rate,
    and alarm states.

    Exit code 0: healthy; 1: DLQ not empty or an alarm firing; 2: resources missing."""
    if meter_url is None and target.is_local:
        meter_url = LOCAL_METER_URL
    with aws_errors():
        status = stage_status(target, meter_url)
    emit({**asdict(status), "healthy": status.healthy}, as_json=as_json, lines=_lines(status))
    if status.missing:
        raise SystemExit(2)
    if not status.healthy:
        raise SystemExit(1)
