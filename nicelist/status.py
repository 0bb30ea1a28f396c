"""``nicelist status``: one look at a stage during a peak: backlog, its age, the DLQ, the table,
the writers' budget and the write rate the table actually sees, and the alarms. Exits 1 when
something needs a person, 2 when resources are missing.

The budget W (SSM ``/nicelist/<stage>/write-rate``) is what the writers may spend, not what they
spend: an idle queue spends nothing, a throttled table less. The measured rate is the mean WCU/s of
the last 60 s, from the local stack's meter when one answers (it counts every unit reaching the
table), else from CloudWatch's ``ConsumedWriteCapacityUnits`` (its newest one-minute sum / 60), else
unknown. Both sources mean the same thing, so one code path serves a deployed stage and the local one.
Throttles come from the same two places: the meter's throttled write units, or CloudWatch's
``WriteThrottleEvents`` over the last five minutes.

The drain estimate (``nicelist.drain``) divides the backlog (visible + in flight + delayed messages)
by the measured rate when there is one, else by W, and says which factors it measured and which it
assumed. ``--watch`` refreshes all of it in place until Ctrl-C, and adds the backlog's own trend
(messages/s over the refreshes) beside the estimate.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import ClientError
from rich.console import Console
from rich.live import Live
from rich.text import Text

from contract.names import StageNames
from nicelist.alarms import AlarmThresholds, alarm_specs
from nicelist.console import aws_errors, emit, error_code
from nicelist.drain import DrainEstimate, LoggedMix, estimate, message_mix, updates_per_message_option, writer_mix
from nicelist.logs import run_dir_option
from nicelist.options import AwsTarget, aws_options
from nicelist.resources import find_queue_url
from nicelist.writerate import read_write_rate, shown, table_throughput

LOCAL_METER_URL = "http://127.0.0.1:4567"  # nicelist up's default --meter-port
RATE_WINDOW_SECONDS = 60
THROTTLE_WINDOW_MINUTES = 5
TREND_SAMPLES = 30  # --watch: the backlog trend is a straight line through the last 30 refreshes


@dataclass(frozen=True, slots=True)
class StageStatus:
    stage: str
    visible: int | None
    in_flight: int | None
    delayed: int | None  # returned messages waiting out their backoff, and deferred remainders
    oldest_age_seconds: float | None  # None: CloudWatch has no datapoint (idle queue, or moto)
    dlq_visible: int | None
    table_items: int | None  # DynamoDB's estimate, refreshed about every six hours
    table_write_capacity: int | None  # provisioned WCU; None: on-demand or missing
    write_budget: float | None  # W, WCU/s the writers share
    writer_concurrency: int | None  # C, the executions W is split by (SSM)
    measured_write_rate: float | None  # WCU/s reaching the table, mean of the last 60 s; None: unknown
    measured_by: str | None  # "meter" | "cloudwatch" | None
    throttles: int | None  # throttled write requests (meter) / WriteThrottleEvents (CloudWatch), recent
    throttles_window_seconds: int | None
    drain: DrainEstimate
    alarms: dict[str, str]
    missing: list[str]
    write_rate_auto: float | None = None  # the parameter says auto:F (W follows the table); None: a number

    @property
    def backlog(self) -> int | None:
        return _known_sum(self.visible, self.in_flight, self.delayed)

    @property
    def healthy(self) -> bool:
        return not self.dlq_visible and "ALARM" not in self.alarms.values()


_DEPTHS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]


def _queue_depth(sqs: Any, name: str, missing: list[str]) -> tuple[int | None, int | None, int | None]:
    """``(visible, in flight, delayed)``."""
    url = find_queue_url(sqs, name)
    if url is None:
        missing.append(name)
        return None, None, None
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=_DEPTHS)["Attributes"]
    visible, in_flight, delayed = (int(attributes.get(key, 0)) for key in _DEPTHS)
    return visible, in_flight, delayed


def _datapoints(
    cloudwatch: Any, metric: str, dimension: tuple[str, str], minutes: int, period: int, statistic: str
) -> list[dict[str, Any]]:
    """One metric of one queue or table over the last ``minutes``, as CloudWatch gives it."""
    namespace, name = ("AWS/SQS", "QueueName") if dimension[0] == "queue" else ("AWS/DynamoDB", "TableName")
    end = dt.datetime.now(dt.UTC)
    return list(
        cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": name, "Value": dimension[1]}],
            StartTime=end - dt.timedelta(minutes=minutes),
            EndTime=end,
            Period=period,
            Statistics=[statistic],
        )["Datapoints"]
    )


def _oldest_age(cloudwatch: Any, queue: str) -> float | None:
    points = _datapoints(cloudwatch, "ApproximateAgeOfOldestMessage", ("queue", queue), 10, 60, "Maximum")
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


def _number(ssm: Any, name: str, missing: list[str]) -> float | None:
    """An SSM parameter as a number; None (and listed missing) when absent, None when not a number."""
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


def _write_rate(
    ssm: Any, name: str, dynamodb: Any, table: str, missing: list[str]
) -> tuple[float | None, float | None]:
    """``(W, auto fraction)`` as the writers read the parameter (a number, or auto[:F] of the table)."""
    try:
        text = str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as error:
        if error_code(error) != "ParameterNotFound":
            raise
        missing.append(name)
        return None, None
    throughput = table_throughput(dynamodb, table) if text.startswith("auto") else None
    return read_write_rate(text, throughput)


def _budget(status: StageStatus) -> str:
    return shown(status.write_budget, status.write_rate_auto) if status.write_rate_auto else _wcu(status.write_budget)


def _meter_series(meter_url: str, table: str, seconds: int) -> list[dict[str, Any]] | None:
    """The meter's last ``seconds`` complete seconds of ``table``; None when no meter answers."""
    url = f"{meter_url.rstrip('/')}/_meter/stats?seconds={seconds + 1}"
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 - the operator's own meter
            stats = json.loads(response.read())
    except (OSError, ValueError):
        return None
    series = stats.get("tables", {}).get(table, {}).get("series", [])
    return list(series[:-1])  # the current second is not over


def cloudwatch_throttles(cloudwatch: Any, table: str) -> int | None:
    """``WriteThrottleEvents`` summed over the last five minutes; None without a datapoint."""
    window = THROTTLE_WINDOW_MINUTES
    points = _datapoints(cloudwatch, "WriteThrottleEvents", ("table", table), window, window * 60, "Sum")
    return int(sum(point["Sum"] for point in points)) if points else None


def cloudwatch_rate(cloudwatch: Any, table: str) -> float | None:
    """The newest one-minute ``ConsumedWriteCapacityUnits`` sum as WCU/s (CloudWatch lags 1-2 minutes)."""
    points = _datapoints(cloudwatch, "ConsumedWriteCapacityUnits", ("table", table), 5, RATE_WINDOW_SECONDS, "Sum")
    if not points:
        return None
    newest = max(points, key=lambda p: p["Timestamp"])
    return round(float(newest["Sum"]) / RATE_WINDOW_SECONDS, 1)


def table_writes(target: AwsTarget, table: str, meter_url: str | None) -> tuple[float | None, str | None, int | None]:
    """``(WCU/s measured, by what, throttled write requests)``: both figures from one source, so they
    describe one table. The meter (one read of its last five minutes: the rate is the mean of the
    last 60 s, the throttles are all of them) when one answers; else CloudWatch; else unknown."""
    window = THROTTLE_WINDOW_MINUTES * 60
    series = _meter_series(meter_url, table, window) if meter_url else None
    if series is not None:  # a table the meter has not seen written is at 0
        units = sum(float(second["units"]) for second in series[-RATE_WINDOW_SECONDS:])
        return round(units / RATE_WINDOW_SECONDS, 1), "meter", sum(int(s.get("throttle_events", 0)) for s in series)
    cloudwatch = target.client("cloudwatch")
    measured = cloudwatch_rate(cloudwatch, table)
    counted = cloudwatch_throttles(cloudwatch, table)
    if measured is None:
        return None, None, counted
    # DynamoDB publishes WriteThrottleEvents only when there are some: with writes measured, none is 0.
    return measured, "cloudwatch", 0 if counted is None else counted


def _known_sum(*parts: int | None) -> int | None:
    return None if any(part is None for part in parts) else sum(part for part in parts if part is not None)


def stage_status(
    target: AwsTarget,
    meter_url: str | None = None,
    *,
    updates_per_message: float | None = None,
    logged: LoggedMix | None = None,
) -> StageStatus:
    """Read everything ``nicelist status`` shows; nothing here writes. ``logged``: the writers' logs
    the drain estimate measures updates per message from (kept across ``--watch`` refreshes)."""
    names = StageNames(target.stage)
    missing: list[str] = []
    visible, in_flight, delayed = _queue_depth(target.client("sqs"), names.queue, missing)
    dlq_visible, _, _ = _queue_depth(target.client("sqs"), names.dlq, missing)
    cloudwatch = target.client("cloudwatch")
    expected = [spec["AlarmName"] for spec in alarm_specs(names, "", AlarmThresholds())]
    # By exact name: a prefix would also match a stage called "<stage>-something".
    alarms = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms(AlarmNames=expected)["MetricAlarms"]}
    missing += [name for name in expected if name not in alarms]
    items, capacity = _table(target.client("dynamodb"), names.table, missing)
    measured, measured_by, throttled = table_writes(target, names.table, meter_url)
    ssm = target.client("ssm")
    # write rate auto (nicelist.writerate): W as the writers derive it from the table, and its fraction
    budget, auto = _write_rate(ssm, names.write_rate_parameter, target.client("dynamodb"), names.table, missing)
    # C is written by `nicelist deploy configure` / `tune`, not by provision: absent is not missing.
    concurrency = _number(ssm, names.writer_concurrency_parameter, [])
    mix = message_mix(updates_per_message, logged, dt.datetime.now(dt.UTC))
    backlog = _known_sum(visible, in_flight, delayed)  # what StageStatus.backlog gives, needed before it
    return StageStatus(
        stage=target.stage,
        visible=visible,
        in_flight=in_flight,
        delayed=delayed,
        oldest_age_seconds=_oldest_age(cloudwatch, names.queue),
        dlq_visible=dlq_visible,
        table_items=items,
        table_write_capacity=capacity,
        write_budget=budget,
        write_rate_auto=auto,
        writer_concurrency=None if concurrency is None else int(concurrency),
        measured_write_rate=measured,
        measured_by=measured_by,
        throttles=throttled,
        throttles_window_seconds=THROTTLE_WINDOW_MINUTES * 60,
        drain=estimate(backlog, mix, measured=measured, budget=budget, capacity=capacity),
        alarms=alarms,
        missing=missing,
    )


class BacklogTrend:
    """The backlog's slope (messages/s) over the last refreshes of ``--watch``: what the queue is
    actually doing, next to the estimate's arithmetic. None until two samples span a second."""

    def __init__(self, samples: int = TREND_SAMPLES) -> None:
        self._points: deque[tuple[float, int]] = deque(maxlen=samples)

    def add(self, at: float, backlog: int | None) -> None:
        if backlog is not None:
            self._points.append((at, backlog))

    def slope(self) -> float | None:
        if len(self._points) < 2 or self._points[-1][0] - self._points[0][0] < 1.0:
            return None
        n = len(self._points)
        mean_t = sum(t for t, _ in self._points) / n
        mean_b = sum(b for _, b in self._points) / n
        spread = sum((t - mean_t) ** 2 for t, _ in self._points)
        return sum((t - mean_t) * (b - mean_b) for t, b in self._points) / spread

    def line(self) -> str:
        slope = self.slope()
        if slope is None:
            return "trend          measuring (needs two refreshes)"
        backlog = self._points[-1][1]
        if slope < -1e-9 and backlog > 0:
            return f"trend          {-slope:,.1f} messages/s leaving: empty in {backlog / -slope:,.0f} s at this pace"
        if backlog == 0:
            return "trend          queue empty"
        return f"trend          backlog not falling ({slope:+,.1f} messages/s)"


def _wcu(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g} WCU/s"


def _lines(status: StageStatus) -> list[str]:
    age = "unknown" if status.oldest_age_seconds is None else f"{status.oldest_age_seconds:.0f} s"
    capacity = "" if status.table_write_capacity is None else f"; table capacity {status.table_write_capacity} WCU"
    if status.measured_write_rate is None:
        measured = "unknown (no meter answers, and CloudWatch has no ConsumedWriteCapacityUnits datapoint)"
    else:
        measured = f"{_wcu(status.measured_write_rate)} measured ({status.measured_by}, mean of the last 60 s)"
    if status.throttles is None:
        throttled = "unknown (no meter, no WriteThrottleEvents datapoint)"
    else:
        throttled = f"{status.throttles:,} throttled write requests in the last {status.throttles_window_seconds} s"
    shared = "" if status.writer_concurrency is None else f" by C = {status.writer_concurrency} writers"
    lines = [
        f"stage          {status.stage}",
        f"queue          {status.visible} visible, {status.in_flight} in flight, {status.delayed} delayed,"
        f" oldest {age}",
        f"dead letters   {status.dlq_visible}",
        f"table items    {status.table_items} (estimate)",
        f"write budget   {_budget(status)} (W, shared{shared}){capacity}",
        f"write rate     {measured}",
        f"throttles      {throttled}",
        *status.drain.line.split("\n"),
    ]
    lines += [f"alarm          {state:<17} {name}" for name, state in sorted(status.alarms.items())]
    lines += [f"MISSING        {name}" for name in status.missing]
    return lines


def _as_dict(status: StageStatus) -> dict[str, Any]:
    return {**asdict(status), "drain": status.drain.as_dict(), "backlog": status.backlog, "healthy": status.healthy}


def _exit_code(status: StageStatus) -> int:
    return 2 if status.missing else (0 if status.healthy else 1)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at call time, so a test can replace it


def watch_status(
    read: Callable[[], StageStatus],
    interval: float,
    console: Console,
    sleep: Callable[[float], None] | None = None,
    *,
    as_json: bool = False,
) -> StageStatus | None:
    """Refresh until Ctrl-C (also during a read) and return the last status read: in place on a
    terminal; otherwise each refresh below the last, or one compact JSON object a line."""
    sleep = sleep or _sleep
    trend = BacklogTrend()
    last: StageStatus | None = None

    def lines() -> list[str]:
        nonlocal last
        last = read()
        trend.add(time.monotonic(), last.backlog)
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        return [*_lines(last), trend.line(), f"refreshed {stamp} UTC every {interval:g} s; Ctrl-C to stop"]

    try:
        if as_json or not console.is_terminal:
            while True:
                text = lines()
                assert last is not None
                if as_json:
                    click.echo(json.dumps({**_as_dict(last), "trend": trend.line()}, sort_keys=True, default=str))
                else:
                    click.echo("\n".join(text) + "\n")
                sleep(interval)
        with Live(Text("\n".join(lines())), console=console, auto_refresh=False) as live:
            while True:
                sleep(interval)
                live.update(Text("\n".join(lines())), refresh=True)
    except KeyboardInterrupt:
        pass
    return last


@click.command("status")
@aws_options
@click.option(
    "--meter-url",
    envvar="NICELIST_METER_URL",
    default=None,
    help=f"The local stack's DynamoDB meter (default for --stage local: {LOCAL_METER_URL}).",
)
@updates_per_message_option
@run_dir_option
@click.option("--watch", is_flag=True, help="Refresh in place until Ctrl-C; exits with the last refresh's code.")
@click.option("--interval", type=click.FloatRange(min=0.5), default=2.0, show_default=True, help="--watch refresh.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON (with --watch: one line per refresh).")
def status_command(
    target: AwsTarget,
    meter_url: str | None,
    updates_per_message: float | None,
    run_dir: Path | None,
    watch: bool,
    interval: float,
    as_json: bool,
) -> None:
    """Show the backlog and its age, the DLQ, the table, W and C, the measured write rate and
    throttles, the estimated time to drain, and alarm states.

    Exit code 0: healthy; 1: DLQ not empty or an alarm firing; 2: resources missing. With --watch,
    the code of the last refresh before Ctrl-C."""
    if meter_url is None and target.is_local:
        meter_url = LOCAL_METER_URL
    logged = None if updates_per_message is not None else writer_mix(target, run_dir)

    def read() -> StageStatus:
        with aws_errors():
            return stage_status(target, meter_url, updates_per_message=updates_per_message, logged=logged)

    if watch:
        last = watch_status(read, interval, Console(), as_json=as_json)
        if last is not None and (code := _exit_code(last)):
            raise SystemExit(code)
        return
    status = read()
    emit(_as_dict(status), as_json=as_json, lines=_lines(status))
    if code := _exit_code(status):
        raise SystemExit(code)
