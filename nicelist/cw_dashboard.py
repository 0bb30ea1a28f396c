"""The CloudWatch dashboard ``nicelist-<stage>``: the local dashboard's panels (no map) from AWS's own
metrics and the writer's EMF metrics, created by ``nicelist provision``, linked by ``nicelist status``.

Panels: the backlog (visible, in flight, delayed) and the age of its oldest message; the DLQ; the
table's consumed write units per second against its provisioned capacity; throttles (DynamoDB's
``WriteThrottleEvents`` and the writer's own ``ThrottleRetries``); a drain estimate computed by metric
math the way ``nicelist.drain`` computes it (backlog x updates per message x write units per update /
the measured rate); the writer function's invocations, errors, throttles and concurrency; what the
writer did with the updates (EMF, namespace ``nicelist``, dimensions ``service`` and ``stage`` as
``writer/observability.py`` and ``writer/handler.py`` set them); where W and C live (SSM, not metrics);
and the stage's alarms.

``put_dashboard`` overwrites, so "ensure" compares the stored body with the wanted one and puts only
when they differ, reporting created / updated / unchanged as the alarms do. The operator who provisions
needs ``cloudwatch:GetDashboard`` and ``cloudwatch:PutDashboard`` besides what provisioning needed before.
Dashboard body reference: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from contract.names import StageNames
from nicelist.console import error_code
from nicelist.dashboard.server import DEFAULT_DASHBOARD_PORT
from nicelist.options import AwsTarget
from nicelist.resources import Outcome
from writer.observability import NAMESPACE, SERVICE

PERIOD = 60
WIDTH, HEIGHT = 8, 6  # a dashboard is 24 units wide: three panels a row
WRITER_COUNTS = ("UpdatesWritten", "UpdatesStale", "UpdatesDeadLettered", "UpdatesReturned", "UpdatesDeferred")
LOCAL_DASHBOARD_URL = f"http://127.0.0.1:{DEFAULT_DASHBOARD_PORT}"  # nicelist up's default --dashboard-port


def dashboard_name(stage: str) -> str:
    return StageNames(stage).prefix


def console_link(region: str, stage: str) -> str:
    """The dashboard in the CloudWatch console (the standard partition's console host)."""
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={dashboard_name(stage)}"


def dashboard_link(target: AwsTarget) -> str:
    """What ``nicelist status`` prints: the local page for the local stack, else the console link."""
    if target.is_local:
        return LOCAL_DASHBOARD_URL
    return console_link(str(target.session().region_name or "us-east-1"), target.stage)


def _widget(title: str, metrics: list[list[Any]], *, stat: str = "Sum", **extra: Any) -> dict[str, Any]:
    return {"title": title, "view": "timeSeries", "stacked": False, "metrics": metrics, "stat": stat, **extra}


def _panels(names: StageNames, region: str, queue_age_alarm: float) -> list[dict[str, Any]]:
    # Imported here: nicelist.plan imports the local stack, which provisions, which imports this module.
    from nicelist.plan import DEFAULT_UNITS_PER_UPDATE  # noqa: PLC0415

    queue = ["QueueName", names.queue]
    table = ["TableName", names.table]
    function = ["FunctionName", names.writer_function]
    emf = ["service", SERVICE, "stage", names.stage]
    upm = f"IF(m_msgs > 0, m_updates / m_msgs, 1) * {DEFAULT_UNITS_PER_UPDATE}"
    hidden = {"visible": False}

    def depth(metric: str, id_: str) -> list[Any]:
        return ["AWS/SQS", metric, *queue, {"id": id_, "stat": "Maximum", **hidden}]

    return [
        _widget(
            "Backlog (messages)",
            [
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", *queue, {"label": "visible"}],
                ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", *queue, {"label": "in flight"}],
                ["AWS/SQS", "ApproximateNumberOfMessagesDelayed", *queue, {"label": "delayed"}],
            ],
            stat="Maximum",
        ),
        _widget(
            "Age of the oldest message (s)",
            [["AWS/SQS", "ApproximateAgeOfOldestMessage", *queue]],
            stat="Maximum",
            annotations={"horizontal": [{"label": "queue-age alarm", "value": queue_age_alarm}]},
        ),
        _widget(
            "Dead-letter queue (messages)",
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", names.dlq]],
            stat="Maximum",
        ),
        _widget(
            "Table writes (WCU/s) against capacity",
            [
                [{"expression": f"m_consumed / {PERIOD}", "label": "consumed WCU/s", "id": "e_rate"}],
                ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", *table, {"id": "m_consumed", **hidden}],
                ["AWS/DynamoDB", "ProvisionedWriteCapacityUnits", *table, {"stat": "Average", "label": "capacity"}],
                [NAMESPACE, "WriteUnits", *emf, {"id": "m_units", **hidden}],
                [{"expression": f"m_units / {PERIOD}", "label": "writers' WCU/s (EMF)", "id": "e_writers"}],
            ],
        ),
        _widget(
            "Throttles",
            [
                ["AWS/DynamoDB", "WriteThrottleEvents", *table, {"label": "table write throttle events"}],
                [NAMESPACE, "ThrottleRetries", *emf, {"label": "writer throttle retries (EMF)"}],
            ],
        ),
        _widget(
            "Drain estimate (s): backlog x updates/message x WCU/update / WCU/s",
            [
                [{"expression": f"m_backlog * {upm} / (m_wcu / {PERIOD})", "label": "drain estimate", "id": "e"}],
                [{"expression": "m_vis + m_inflight + m_delayed", "id": "m_backlog", **hidden}],
                depth("ApproximateNumberOfMessagesVisible", "m_vis"),
                depth("ApproximateNumberOfMessagesNotVisible", "m_inflight"),
                depth("ApproximateNumberOfMessagesDelayed", "m_delayed"),
                ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", *table, {"id": "m_wcu", **hidden}],
                [NAMESPACE, "Messages", *emf, {"id": "m_msgs", **hidden}],
                [NAMESPACE, "UpdatesReceived", *emf, {"id": "m_updates", **hidden}],
            ],
        ),
        _widget(
            "Writer function",
            [
                ["AWS/Lambda", "Invocations", *function],
                ["AWS/Lambda", "Errors", *function],
                ["AWS/Lambda", "Throttles", *function],
                ["AWS/Lambda", "ConcurrentExecutions", *function, {"stat": "Maximum", "label": "concurrency (max)"}],
            ],
        ),
        _widget("What the writer did with the updates (EMF)", [[NAMESPACE, name, *emf] for name in WRITER_COUNTS]),
    ]


def _budget_note(names: StageNames) -> str:
    return (
        f"**W** (the writers' write budget, WCU/s) is SSM `{names.write_rate_parameter}`, **C** (the writers it"
        f" is split by) `{names.writer_concurrency_parameter}`: not metrics. `nicelist status --stage {names.stage}`"
        " shows both beside the measured rate and the drain estimate; `nicelist rate` and `nicelist tune` change them."
    )


def dashboard_body(names: StageNames, region: str, alarm_arns: list[str], queue_age_alarm: float) -> dict[str, Any]:
    """The dashboard, laid out three panels a row, the alarms last."""
    widgets: list[dict[str, Any]] = []
    for index, properties in enumerate(_panels(names, region, queue_age_alarm)):
        row, column = divmod(index, 24 // WIDTH)
        widgets.append(
            {
                "type": "metric",
                "x": column * WIDTH,
                "y": row * HEIGHT,
                "width": WIDTH,
                "height": HEIGHT,
                "properties": {**properties, "region": region, "period": PERIOD},
            }
        )
    top = (len(widgets) + 2) // 3 * HEIGHT
    widgets.append(
        {
            "type": "text",
            "x": 0,
            "y": top,
            "width": 24,
            "height": 2,
            "properties": {"markdown": _budget_note(names)},
        }
    )
    top += 2
    widgets.append(
        {
            "type": "alarm",
            "x": 0,
            "y": top,
            "width": 24,
            "height": 4,
            "properties": {"title": f"Alarms of {names.prefix}", "alarms": sorted(alarm_arns)},
        }
    )
    return {"widgets": widgets}


def ensure_dashboard(cloudwatch: Any, name: str, body: dict[str, Any]) -> Outcome:
    """Put the dashboard when it is missing or its body differs from ``body``."""
    try:
        current = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    except ClientError as error:
        if error_code(error) not in {"ResourceNotFound", "ResourceNotFoundException"}:
            raise
        current = None
    if current == body:
        return Outcome("dashboard", name, "unchanged")
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body, sort_keys=True))
    return Outcome("dashboard", name, "created" if current is None else "updated")


def ensure_stage_dashboard(
    cloudwatch: Any, names: StageNames, alarm_names: list[str], queue_age_alarm: float
) -> Outcome:
    """The stage's dashboard, with its alarms' ARNs as CloudWatch returns them (no ARN is built here)."""
    alarms = cloudwatch.describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
    region = str(cloudwatch.meta.region_name)
    body = dashboard_body(names, region, [str(alarm["AlarmArn"]) for alarm in alarms], queue_age_alarm)
    return ensure_dashboard(cloudwatch, dashboard_name(names.stage), body)
