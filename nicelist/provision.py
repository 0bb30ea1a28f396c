"""Provision one stage's resources (docs/design.md, "Resources per stage"), idempotently, on moto or AWS.

``provision_stage(stage, clients, options)`` is the whole API: the local stack calls it against
moto server, ``nicelist provision`` calls it against AWS. Re-running repairs drift and reports
what it created, updated or left alone. No ARN is built here: every ARN comes back from AWS,
so the aws-cn and aws-us-gov partitions work unchanged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
import click
from botocore.exceptions import ClientError

from contract.delivery import (
    DEFAULT_MAX_RECEIVE_COUNT,
    MAX_MESSAGE_BYTES,
    MIN_MAX_RECEIVE_COUNT,
    min_visibility_timeout,
)
from contract.names import StageNames
from nicelist.alarms import AlarmThresholds, alarm_specs, ensure_alarms
from nicelist.autoscaling import AutoScaling, AutoScalingError, ensure_autoscaling, scalable_target
from nicelist.console import aws_errors, emit
from nicelist.cw_dashboard import ensure_stage_dashboard
from nicelist.options import AwsTarget, aws_options
from nicelist.resources import (
    Outcome,
    TableCapacity,
    ensure_queue,
    ensure_table,
    ensure_topic,
    ensure_write_rate,
)
from writer.settings import SHORT_TIMEOUT_MARGIN_MS

MIN_WRITER_TIMEOUT = 5  # seconds: the shortest deadline margin (4 s) and 1 s of writing

DAY = 24 * 3600


class ProvisionError(ValueError):
    """The requested options would build a stage that breaks the design's invariants."""


@dataclass(frozen=True, slots=True)
class Clients:
    """The boto3 clients provisioning uses, all for one account and region."""

    sqs: Any
    dynamodb: Any
    sns: Any
    cloudwatch: Any
    ssm: Any
    autoscaling: Any = None  # Application Auto Scaling: only `--autoscale` and a registered target need it

    @classmethod
    def create(
        cls,
        session: boto3.Session | None = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> Clients:
        """Clients from one session (default: boto3's chain), e.g. ``endpoint_url`` of moto server."""
        session = session or boto3.Session(region_name=region)
        made = [
            session.client(service, endpoint_url=endpoint_url)
            for service in ("sqs", "dynamodb", "sns", "cloudwatch", "ssm", "application-autoscaling")
        ]
        return cls(*made)

    @classmethod
    def for_target(cls, target: AwsTarget) -> Clients:
        return cls.create(target.session(), endpoint_url=target.endpoint)


@dataclass(frozen=True, slots=True)
class ProvisionOptions:
    """What may differ between stages. Defaults are the design's minimums."""

    write_capacity: int = 100  # table WCU, and the initial write-rate budget
    read_capacity: int = 5
    on_demand: bool = False
    write_rate: float | None = None  # explicit: overwrite the parameter; None: create only if absent
    writer_timeout: int = 60  # seconds; the queue's visibility timeout is VISIBILITY_TIMEOUT_FACTOR x this
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT
    queue_retention: int = 4 * DAY
    dlq_retention: int = 14 * DAY
    alarm_email: str | None = None
    thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)
    autoscale: AutoScaling | None = None  # register DynamoDB auto scaling of the table's WCU

    def __post_init__(self) -> None:
        problems = []
        if self.max_receive_count < MIN_MAX_RECEIVE_COUNT:
            problems.append(
                f"max_receive_count must be >= {MIN_MAX_RECEIVE_COUNT} (throttled receives climb towards the DLQ)"
            )
        if not MIN_WRITER_TIMEOUT <= self.writer_timeout <= 900:
            problems.append(
                f"writer_timeout must be {MIN_WRITER_TIMEOUT}..900 seconds (Lambda allows 1..900; the writer stops "
                f"writing {SHORT_TIMEOUT_MARGIN_MS / 1000:g} s or more before its timeout, so it needs "
                f"{MIN_WRITER_TIMEOUT} to write at all: writer.settings.deadline_margin_seconds)"
            )
        if self.dlq_retention <= self.queue_retention:
            problems.append("dlq_retention must be longer than queue_retention")
        if self.write_rate is not None and self.write_rate <= 0:
            problems.append("write_rate must be > 0")
        if self.write_capacity < 1 or self.read_capacity < 1:
            problems.append("capacities must be >= 1")
        if self.autoscale is not None and self.on_demand:
            problems.append("--autoscale scales provisioned capacity: not with --on-demand")
        if problems:
            raise ProvisionError("; ".join(problems))

    @property
    def visibility_timeout(self) -> int:
        return min_visibility_timeout(self.writer_timeout)


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    """Names, URLs and ARNs of a provisioned stage, and what this run did to each resource."""

    stage: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    table_name: str
    table_arn: str
    topic_arn: str
    alarm_names: list[str]
    write_rate_parameter: str
    write_rate: float
    actions: list[Outcome]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def changed(self) -> list[Outcome]:
        return [a for a in self.actions if a.action != "unchanged"]


def provision_stage(stage: str, clients: Clients, options: ProvisionOptions | None = None) -> ProvisionResult:
    """Create or repair every resource of ``stage``; safe to run any number of times."""
    options = options or ProvisionOptions()
    names = StageNames(stage)
    dlq_attributes = {
        "MessageRetentionPeriod": str(options.dlq_retention),
        "MaximumMessageSize": str(MAX_MESSAGE_BYTES),
    }
    dlq, dlq_outcome = ensure_queue(clients.sqs, names.dlq, dlq_attributes)
    queue, queue_outcome = ensure_queue(clients.sqs, names.queue, _queue_attributes(options, dlq.arn))
    table_arn, table_outcomes = ensure_table(
        clients.dynamodb,
        names.table,
        TableCapacity(_write_capacity(clients, names.table, options), options.read_capacity, options.on_demand),
    )
    if options.autoscale is not None:
        table_outcomes += ensure_autoscaling(clients.autoscaling, names.table, options.autoscale)
    topic_arn, topic_outcomes = ensure_topic(clients.sns, names.alarm_topic, options.alarm_email)
    specs = alarm_specs(names, topic_arn, options.thresholds)
    alarm_outcomes = [
        Outcome("alarm", name, action) for name, action in ensure_alarms(clients.cloudwatch, specs).items()
    ]
    # The stage's CloudWatch dashboard (nicelist.cw_dashboard), after the alarms it shows.
    alarm_names = [spec["AlarmName"] for spec in specs]
    queue_age = float(options.thresholds.queue_age_seconds)
    alarms_and_dashboard = [*alarm_outcomes, ensure_stage_dashboard(clients.cloudwatch, names, alarm_names, queue_age)]
    rate, rate_outcome = ensure_write_rate(
        clients.ssm, names.write_rate_parameter, float(options.write_capacity), options.write_rate
    )
    return ProvisionResult(
        stage=stage,
        queue_url=queue.url,
        queue_arn=queue.arn,
        dlq_url=dlq.url,
        dlq_arn=dlq.arn,
        table_name=names.table,
        table_arn=table_arn,
        topic_arn=topic_arn,
        alarm_names=alarm_names,
        write_rate_parameter=names.write_rate_parameter,
        write_rate=rate,
        actions=[dlq_outcome, queue_outcome, *table_outcomes, *topic_outcomes, *alarms_and_dashboard, rate_outcome],
    )


def _write_capacity(clients: Clients, table: str, options: ProvisionOptions) -> int:
    """The WCU to provision. An auto-scaled table keeps the WCU auto scaling gave it (within its
    bounds): re-provisioning must not undo a scale out in the middle of a peak."""
    if options.on_demand or clients.autoscaling is None:
        return options.write_capacity
    try:
        current = clients.dynamodb.describe_table(TableName=table)["Table"]
    except clients.dynamodb.exceptions.ResourceNotFoundException:
        return options.autoscale.clamp(options.write_capacity) if options.autoscale else options.write_capacity
    try:
        registered = scalable_target(clients.autoscaling, table)
    except ClientError:
        if options.autoscale is not None:
            raise
        registered = None  # an operator without Application Auto Scaling rights, who asked for none of it
    if options.autoscale is None and registered is None:
        return options.write_capacity
    bounds = options.autoscale or AutoScaling(int(registered["MinCapacity"]), int(registered["MaxCapacity"]))  # type: ignore[index]
    wcu = (current.get("ProvisionedThroughput") or {}).get("WriteCapacityUnits") or options.write_capacity
    return bounds.clamp(int(wcu))


def _queue_attributes(options: ProvisionOptions, dlq_arn: str) -> dict[str, str]:
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": options.max_receive_count}
    return {
        "RedrivePolicy": json.dumps(redrive),
        "VisibilityTimeout": str(options.visibility_timeout),
        "MessageRetentionPeriod": str(options.queue_retention),
        "ReceiveMessageWaitTimeSeconds": "20",
        "MaximumMessageSize": str(MAX_MESSAGE_BYTES),
    }


@click.command("provision")
@aws_options
@click.option(
    "--write-capacity",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Table WCU (provisioned mode); also the initial write rate.",
)
@click.option("--on-demand", is_flag=True, help="Create the table on-demand instead of provisioned.")
@click.option(
    "--write-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Overwrite the write-rate parameter (default: create it only if absent).",
)
@click.option(
    "--writer-timeout",
    type=click.IntRange(1, 900),
    default=60,
    show_default=True,
    help="Writer Lambda timeout in seconds; the queue's visibility is 6x this.",
)
@click.option(
    "--max-receive-count",
    type=click.IntRange(min=5),
    default=5,
    show_default=True,
    help="Receives before SQS moves a message to the DLQ.",
)
@click.option(
    "--autoscale",
    default=None,
    metavar="MIN:MAX[:TARGET]",
    help="DynamoDB auto scaling of the table's WCU between MIN and MAX, target utilisation TARGET % (70).",
)
@click.option("--alarm-email", default=None, help="Subscribe this address to the alarm topic.")
@click.option(
    "--queue-age-alarm",
    type=click.IntRange(min=60),
    default=900,
    show_default=True,
    help="Alarm when the oldest message is older than this many seconds.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def provision_command(target: AwsTarget, as_json: bool, queue_age_alarm: int, **values: Any) -> None:
    """Create or repair the stage's queue, DLQ, table, alarm topic, alarms, dashboard and write-rate parameter."""
    try:
        autoscale = values.pop("autoscale")
        values["autoscale"] = None if autoscale is None else AutoScaling.parse(autoscale)
        options = ProvisionOptions(thresholds=AlarmThresholds(queue_age_alarm), **values)
    except (ProvisionError, AutoScalingError) as error:
        raise click.UsageError(str(error)) from error
    with aws_errors():
        result = provision_stage(target.stage, Clients.for_target(target), options)
    lines = [f"{a.action:>9}  {a.resource:<12} {a.name}  {a.detail}".rstrip() for a in result.actions]
    lines += [f"queue: {result.queue_url}", f"write rate: {result.write_rate:g} WCU/s"]
    emit(result.to_dict(), as_json=as_json, lines=lines)
