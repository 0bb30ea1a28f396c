"""CloudWatch alarms per stage (docs/design.md, "Resources per stage"): what each one watches and why its threshold.

``put_metric_alarm`` overwrites, so "ensure" means: describe, compare the fields we own, and
put only when something differs. That lets provisioning report created/updated/unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract.names import StageNames

# writer/observability.py's NAMESPACE and SERVICE, restated so that provisioning does not import
# Powertools; tests/unit/test_alarm_rules.py compares them.
WRITER_NAMESPACE = "nicelist"
WRITER_SERVICE = "nicelist-writer"

# The fields of an alarm that provisioning owns; anything else (state, history) is CloudWatch's.
_OWNED = (
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
    "OKActions",
    "AlarmDescription",
)


@dataclass(frozen=True, slots=True)
class AlarmThresholds:
    """Thresholds an operator may want to move; the rest of each alarm is fixed by its meaning."""

    # The backlog is the point of the design, so age alarms only when it stops draining in time.
    queue_age_seconds: int = 900
    # CloudWatch's period for every alarm. 60 on AWS; the local stack uses 10 (a high-resolution alarm
    # period, valid on AWS for metrics stored at one-second resolution) so that 3 of 5 periods take
    # 30-50 s instead of 3-5 minutes: the same definitions, evaluated by the same rules, compressed.
    period_seconds: int = 60


def alarm_specs(names: StageNames, topic_arn: str, thresholds: AlarmThresholds) -> list[dict[str, Any]]:
    """The ``put_metric_alarm`` arguments for every alarm of a stage, in a fixed order."""

    def spec(what: str, description: str, **metric: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "AlarmName": names.alarm(what),
            "AlarmDescription": description,
            "Period": thresholds.period_seconds,
            "EvaluationPeriods": 5,
            "DatapointsToAlarm": 3,
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            # No datapoints means no traffic (SQS and Lambda publish nothing when idle): not a problem.
            "TreatMissingData": "notBreaching",
            "AlarmActions": [topic_arn],
            "OKActions": [topic_arn],
        }
        base.update(metric)
        return base

    return [
        spec(
            "queue-age",
            "The oldest update has waited too long: raise the write rate or check the writer.",
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": names.queue}],
            Statistic="Maximum",
            Threshold=float(thresholds.queue_age_seconds),
        ),
        spec(
            "dlq-not-empty",
            "Updates reached the dead-letter queue: inspect with `nicelist dlq peek`.",
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": names.dlq}],
            Statistic="Maximum",
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
        ),
        spec(
            "table-write-throttles",
            "The table throttles writes: the write-rate parameter exceeds the table's capacity.",
            Namespace="AWS/DynamoDB",
            MetricName="WriteThrottleEvents",
            Dimensions=[{"Name": "TableName", "Value": names.table}],
            Statistic="Sum",
            # Any throttled period: the writers are paced below capacity, so one throttled minute means
            # the budget or a hot key is wrong, and a direct writer loses writes at once (the --direct
            # demo's storm spans 1-2 periods: 3 of 5 let it pass). OK after 3 periods of clean writes
            # (CloudWatch ignores missing data on AWS/DynamoDB metrics, so only writes can clear it).
            EvaluationPeriods=3,
            DatapointsToAlarm=1,
        ),
        spec(
            "writer-errors",
            "The writer function fails invocations: the whole batch comes back each time.",
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=[{"Name": "FunctionName", "Value": names.writer_function}],
            Statistic="Sum",
        ),
        spec(
            "writer-throttles",
            "Lambda throttles the writer: the mapping's maximum concurrency exceeds reserved concurrency.",
            Namespace="AWS/Lambda",
            MetricName="Throttles",
            Dimensions=[{"Name": "FunctionName", "Value": names.writer_function}],
            Statistic="Sum",
        ),
        spec(
            "updates-dead-lettered",
            "The writer dead-lettered updates (invalid, or refused by DynamoDB): `nicelist dlq peek` shows why.",
            # The writer's own EMF metric: Powertools adds the service, the handler the stage dimension.
            Namespace=WRITER_NAMESPACE,
            MetricName="UpdatesDeadLettered",
            Dimensions=[{"Name": "service", "Value": WRITER_SERVICE}, {"Name": "stage", "Value": names.stage}],
            Statistic="Sum",
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
        ),
    ]


def _owned(alarm: dict[str, Any]) -> dict[str, Any]:
    owned = {key: alarm.get(key) for key in _OWNED}
    owned["Threshold"] = float(owned["Threshold"] or 0.0)
    for key in ("AlarmActions", "OKActions", "Dimensions"):
        owned[key] = sorted(owned[key] or [], key=str)
    return owned


def ensure_alarms(cloudwatch: Any, specs: list[dict[str, Any]]) -> dict[str, str]:
    """Create or repair each alarm; return ``{alarm name: "created" | "updated" | "unchanged"}``."""
    existing = {
        alarm["AlarmName"]: alarm
        for alarm in cloudwatch.describe_alarms(AlarmNames=[s["AlarmName"] for s in specs])["MetricAlarms"]
    }
    outcome: dict[str, str] = {}
    for spec in specs:
        current = existing.get(spec["AlarmName"])
        if current is not None and _owned(current) == _owned(spec):
            outcome[spec["AlarmName"]] = "unchanged"
            continue
        cloudwatch.put_metric_alarm(**spec)
        outcome[spec["AlarmName"]] = "created" if current is None else "updated"
    return outcome
