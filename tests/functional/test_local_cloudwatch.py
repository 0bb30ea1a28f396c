"""The local CloudWatch against moto in-process: publisher -> metrics; evaluator -> state -> SNS -> notification."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from contract.names import StageNames
from nicelist.alarms import AlarmThresholds
from nicelist.local.alarm_eval import AlarmEvaluator
from nicelist.local.cloudwatch import MetricSink, StackMetrics, WatchedQueue
from nicelist.local.emulator import CloudWatchEmulator
from nicelist.local.notifications import NotificationInbox, read_notifications
from nicelist.local.queue_age import QueueAgeTracker
from nicelist.local.stats import StatsSnapshot
from nicelist.provision import Clients, ProvisionOptions, ProvisionResult, provision_stage

PERIOD = 10
NAMES = StageNames("cw")


@pytest.fixture
def stage() -> Iterator[tuple[Clients, ProvisionResult]]:
    with mock_aws():
        clients = Clients.create(region="us-east-1")
        options = ProvisionOptions(thresholds=AlarmThresholds(queue_age_seconds=30, period_seconds=PERIOD))
        yield clients, provision_stage("cw", clients, options)


def _base(now: float) -> int:
    """The start of the period 7 periods before the newest complete one (the evaluation range's first)."""
    return math.floor((now - 2) / PERIOD) * PERIOD - 7 * PERIOD


def _put(clients: Clients, namespace: str, name: str, dimension: dict[str, str], points: dict[int, float]) -> None:
    clients.cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [dimension],
                "Timestamp": dt.datetime.fromtimestamp(at, dt.UTC),
                "Value": value,
                "StorageResolution": 1,
            }
            for at, value in points.items()
        ],
    )


def _state(clients: Clients, name: str) -> dict[str, Any]:
    alarm: dict[str, Any] = clients.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    return alarm


def _emulator(clients: Clients, result: ProvisionResult, tmp_path: Path, metrics: StackMetrics | None = None,
              clock: Any = time.time) -> CloudWatchEmulator:  # fmt: skip
    inbox = NotificationInbox(clients.sqs, clients.sns, tmp_path / "notifications.log")
    inbox.subscribe(result.stage, result.topic_arn)
    metrics = metrics or StackMetrics(MetricSink(clients.cloudwatch), clients.sqs, [])
    return CloudWatchEmulator(metrics, AlarmEvaluator(clients.cloudwatch, clients.sns, "us-east-1", clock=clock), inbox)


def test_an_old_backlog_in_three_of_five_periods_fires_the_alarm_and_notifies_through_the_topic(
    stage: tuple[Clients, ProvisionResult], tmp_path: Path
) -> None:
    clients, result = stage
    now = time.time()
    base = _base(now)
    queue = {"Name": "QueueName", "Value": NAMES.queue}
    # GIVEN the oldest message older than the threshold (30 s) in three of the last five periods
    ages = {base + PERIOD * (2 + i) + 3: (40.0 if i in (0, 2, 4) else 5.0) for i in range(5)}
    _put(clients, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue, ages)
    emulator = _emulator(clients, result, tmp_path, clock=lambda: now)
    # WHEN the alarms are evaluated
    emulator.round()
    # THEN only the queue-age alarm is in ALARM, with CloudWatch's kind of reason
    alarm = _state(clients, NAMES.alarm("queue-age"))
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 3 out of the last 5 datapoints [40.0 (")
    assert "the threshold (30.0) (minimum 3 datapoints for OK -> ALARM transition)" in alarm["StateReason"]
    assert json.loads(alarm["StateReasonData"])["period"] == PERIOD
    others = {a["AlarmName"]: a["StateValue"] for a in clients.cloudwatch.describe_alarms()["MetricAlarms"]}
    assert sorted(n for n, s in others.items() if s == "ALARM") == [alarm["AlarmName"]]
    # AND the notification went through the stage's topic into the log, one JSON line
    [line] = read_notifications(tmp_path / "notifications.log")
    assert (line["alarm"], line["state"], line["previous"]) == (alarm["AlarmName"], "ALARM", "OK")
    assert line["reason"] == alarm["StateReason"]
    assert line["subject"] == f'ALARM: "{alarm["AlarmName"]}" in US East (N. Virginia)'
    # WHEN three more periods pass with the queue empty
    later = now + 3 * PERIOD
    _put(
        clients, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue, {base + PERIOD * (7 + i) + 3: 0.0 for i in range(3)}
    )
    emulator.evaluator = AlarmEvaluator(clients.cloudwatch, clients.sns, "us-east-1", clock=lambda: later)
    emulator.round()
    # THEN it is OK again, and that was notified too (OKActions)
    assert _state(clients, NAMES.alarm("queue-age"))["StateValue"] == "OK"
    assert [n["state"] for n in read_notifications(tmp_path / "notifications.log")] == ["ALARM", "OK"]


def test_one_throttled_period_fires_the_table_alarm(stage: tuple[Clients, ProvisionResult], tmp_path: Path) -> None:
    clients, result = stage
    now = time.time()
    base = _base(now)
    # GIVEN writes in the last three periods, throttled in one
    throttles = {base + PERIOD * (4 + i) + 1: (3.0 if i == 1 else 0.0) for i in range(3)}
    _put(clients, "AWS/DynamoDB", "WriteThrottleEvents", {"Name": "TableName", "Value": NAMES.table}, throttles)
    # WHEN evaluated THEN the table's alarm fires
    _emulator(clients, result, tmp_path, clock=lambda: now).round()
    alarm = _state(clients, NAMES.alarm("table-write-throttles"))
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 3 datapoints [0.0 (")


def test_dynamodb_alarms_keep_their_state_when_the_data_stops(
    stage: tuple[Clients, ProvisionResult], tmp_path: Path
) -> None:
    # GIVEN the throttle alarm in ALARM and no datapoint at all since (AWS/DynamoDB ignores missing data)
    clients, result = stage
    name = NAMES.alarm("table-write-throttles")
    clients.cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="by hand")
    emulator = _emulator(clients, result, tmp_path)
    # WHEN evaluated THEN it stays in ALARM, while the Lambda alarms with no data stay OK (notBreaching)
    emulator.round()
    assert _state(clients, name)["StateValue"] == "ALARM"
    assert _state(clients, NAMES.alarm("writer-errors"))["StateValue"] == "OK"
    assert read_notifications(tmp_path / "notifications.log") == []


def test_the_publisher_puts_queue_table_and_function_metrics_in_aws_names(
    stage: tuple[Clients, ProvisionResult], tmp_path: Path
) -> None:
    clients, result = stage
    # GIVEN three messages on the queue, one received by the runtime's (hooked) client and not deleted
    sent = time.time()
    for index in range(3):
        clients.sqs.send_message(QueueUrl=result.queue_url, MessageBody=f"m{index}")
    tracker = QueueAgeTracker(time.time() - 100, forget_after=400)
    tracker.attach(clients.sqs, time.time)
    clients.sqs.receive_message(QueueUrl=result.queue_url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"])
    # AND a writer log with one EMF document the writer would print, and one hostile line
    log = tmp_path / "writer.log"
    log.write_text("")
    stats = StatsSnapshot(invocations=4, batch_failures=1, throttled_invocations=2, in_flight=1)
    metrics = StackMetrics(
        MetricSink(clients.cloudwatch), clients.sqs, [WatchedQueue(NAMES.queue, result.queue_url, tracker),
                                                      WatchedQueue(NAMES.dlq, result.dlq_url)],
        function_name=NAMES.writer_function, runtime_stats=lambda: stats, emf_log=log,
    )  # fmt: skip
    document = {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [
            {"Namespace": "nicelist", "Dimensions": [["service", "stage"]],
             "Metrics": [{"Name": "UpdatesDeadLettered", "Unit": "Count"}]}]},
        "service": "nicelist-writer", "stage": "cw", "UpdatesDeadLettered": 2,
    }  # fmt: skip
    log.write_text(json.dumps(document) + "\n" + '{"_aws": {"Timestamp": "soon"}, "x": 1}\n')
    # WHEN one tick publishes
    metrics.tick()

    # THEN CloudWatch has the queue depth and age, the function's counters, and the writer's metric
    def value(namespace: str, name: str, dimensions: list[dict[str, str]], statistic: str) -> float:
        end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        points = clients.cloudwatch.get_metric_statistics(
            Namespace=namespace, MetricName=name, Dimensions=dimensions, StartTime=end - dt.timedelta(minutes=5),
            EndTime=end, Period=300, Statistics=[statistic],
        )["Datapoints"]  # fmt: skip
        assert len(points) == 1, (namespace, name)
        return float(points[0][statistic])

    queue = [{"Name": "QueueName", "Value": NAMES.queue}]
    assert value("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, "Maximum") == 2
    assert value("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", queue, "Maximum") == 1
    # (the received message's own age, and the frontier it set for the two never received: both sent since)
    assert 0 <= value("AWS/SQS", "ApproximateAgeOfOldestMessage", queue, "Maximum") <= time.time() - sent + 1
    assert value("AWS/SQS", "NumberOfMessagesReceived", queue, "Sum") == 1
    dlq = [{"Name": "QueueName", "Value": NAMES.dlq}]
    assert value("AWS/SQS", "ApproximateAgeOfOldestMessage", dlq, "Maximum") == 0  # empty
    function = [{"Name": "FunctionName", "Value": NAMES.writer_function}]
    assert value("AWS/Lambda", "Invocations", function, "Sum") == 4
    assert value("AWS/Lambda", "Errors", function, "Sum") == 1
    assert value("AWS/Lambda", "Throttles", function, "Sum") == 2
    assert value("AWS/Lambda", "ConcurrentExecutions", function, "Maximum") == 1
    writer = [{"Name": "service", "Value": "nicelist-writer"}, {"Name": "stage", "Value": "cw"}]
    assert value("nicelist", "UpdatesDeadLettered", writer, "Sum") == 2


def test_the_writers_emf_metric_fires_the_dead_letter_alarm(
    stage: tuple[Clients, ProvisionResult], tmp_path: Path
) -> None:
    # GIVEN an EMF document of the writer that dead-lettered an update, in the newest complete period
    clients, result = stage
    now = time.time()
    at = math.floor((now - 2) / PERIOD) * PERIOD - 5
    log = tmp_path / "writer.log"
    log.write_text("")
    metrics = StackMetrics(MetricSink(clients.cloudwatch), clients.sqs, [], emf_log=log)
    document = {
        "_aws": {"Timestamp": at * 1000, "CloudWatchMetrics": [
            {"Namespace": "nicelist", "Dimensions": [["service", "stage"]],
             "Metrics": [{"Name": "UpdatesDeadLettered", "Unit": "Count"}]}]},
        "service": "nicelist-writer", "stage": "cw", "UpdatesDeadLettered": 1,
    }  # fmt: skip
    log.write_text(json.dumps(document) + "\n")
    # WHEN the emulator runs a round
    _emulator(clients, result, tmp_path, metrics, clock=lambda: now).round()
    # THEN the alarm on the writer's own metric fired, and only it
    firing = [a["AlarmName"] for a in clients.cloudwatch.describe_alarms(StateValue="ALARM")["MetricAlarms"]]
    assert firing == [NAMES.alarm("updates-dead-lettered")]
    assert [n["alarm"] for n in read_notifications(tmp_path / "notifications.log")] == firing


def test_the_demo_waits_only_for_alarms_that_are_clearing(
    stage: tuple[Clients, ProvisionResult], tmp_path: Path
) -> None:
    # GIVEN the queue-age alarm in ALARM with its newest datapoint fine, the DLQ's with its newest still bad
    clients, _ = stage
    now = time.time()
    newest = math.floor((now - 2) / PERIOD) * PERIOD - PERIOD + 1
    _put(
        clients, "AWS/SQS", "ApproximateAgeOfOldestMessage", {"Name": "QueueName", "Value": NAMES.queue}, {newest: 0.0}
    )
    _put(
        clients,
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"Name": "QueueName", "Value": NAMES.dlq},
        {newest: 3.0},
    )
    for what in ("queue-age", "dlq-not-empty"):
        clients.cloudwatch.set_alarm_state(AlarmName=NAMES.alarm(what), StateValue="ALARM", StateReason="before")
    # THEN only the first is clearing
    evaluator = AlarmEvaluator(clients.cloudwatch, clients.sns, "us-east-1", clock=lambda: now)
    assert evaluator.clearing() == [NAMES.alarm("queue-age")]


class _Meter(http.server.BaseHTTPRequestHandler):
    """The meter's ``/_meter/stats`` with one table: a throttled second, a quiet one, the current one."""

    now = 0

    def do_GET(self) -> None:
        series = [
            {"second": self.now - 3, "units": 50, "throttled_units": 20, "requests": 30, "throttle_events": 4},
            {"second": self.now - 2, "units": 0, "throttled_units": 0, "requests": 0, "throttle_events": 0},
            {"second": self.now, "units": 9, "throttled_units": 0, "requests": 9, "throttle_events": 0},
        ]
        body = json.dumps({"tables": {NAMES.table: {"capacity": 100, "series": series}}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_the_meters_seconds_become_the_tables_metrics(stage: tuple[Clients, ProvisionResult]) -> None:
    # GIVEN a meter whose ledger has a throttled second, an idle one and the current (unfinished) one
    clients, _ = stage
    now = math.floor(time.time())
    _Meter.now = now
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Meter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        metrics = StackMetrics(MetricSink(clients.cloudwatch), clients.sqs, [], meter_url=url, clock=lambda: now + 0.5)
        # WHEN two ticks publish (the second must not publish the same seconds again)
        metrics.tick()
        metrics.tick()
    finally:
        server.shutdown()

    # THEN only the finished second with writes is published, stamped with its own second, once
    def points(name: str) -> list[tuple[int, float]]:
        found = clients.cloudwatch.get_metric_statistics(
            Namespace="AWS/DynamoDB", MetricName=name, Dimensions=[{"Name": "TableName", "Value": NAMES.table}],
            StartTime=dt.datetime.fromtimestamp(now - 60, dt.UTC), EndTime=dt.datetime.fromtimestamp(now + 5, dt.UTC),
            Period=1, Statistics=["Sum"],
        )["Datapoints"]  # fmt: skip
        return sorted((int(p["Timestamp"].timestamp()) - now, p["Sum"]) for p in found)

    assert points("WriteThrottleEvents") == [(-3, 4.0)]
    assert points("ConsumedWriteCapacityUnits") == [(-3, 50.0)]
    assert [value for _, value in points("ProvisionedWriteCapacityUnits")] == [200.0]  # two ticks of 100
