"""Evaluate the embedded AWS's alarms as CloudWatch does, and notify their topics (docs/design.md, "The local stack").

``AlarmEvaluator.evaluate()`` reads every metric alarm (``describe_alarms``), queries its metric with
``get_metric_statistics`` over the evaluation range, judges it by ``nicelist.local.alarm_rules``, and on
a change of state calls ``set_alarm_state`` with CloudWatch's kind of ``StateReason`` and
``StateReasonData``, then publishes CloudWatch's alarm notification to the state's actions
(``AlarmActions``, ``OKActions``, ``InsufficientDataActions``; SNS topics only, when
``ActionsEnabled``).

The statistic of each period is combined from one-second statistics (``Period=1``: the publisher
stores at one-second resolution), because moto's ``get_metric_statistics`` starts its periods at the
first datapoint found, not at multiples of the period as CloudWatch does. Sum, SampleCount, Minimum,
Maximum and Average combine exactly; percentiles are not evaluated. A period counts once it ended
``lag`` seconds ago (the publisher writes each second after it is over).

moto creates alarms in state OK ("Unchecked: Initial alarm creation"), not INSUFFICIENT_DATA as AWS
does, so the first evaluation of a quiet stage changes nothing and sends nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.session

from nicelist.local.alarm_rules import Decision, Rule, UnsupportedAlarm, evaluate, period_starts

LOG = logging.getLogger(__name__)
LAG_SECONDS = 2.0
_STATISTICS = ["SampleCount", "Sum", "Minimum", "Maximum"]
_ACTIONS = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}


@dataclass(frozen=True, slots=True)
class Transition:
    alarm: str
    previous: str
    state: str
    reason: str
    at: dt.datetime


def combine(points: Sequence[dict[str, Any]], statistic: str, starts: Sequence[int], period: int) -> list[float | None]:
    """The alarm's statistic per aligned period from one-second statistics (None: no datapoint)."""
    buckets: dict[int, list[dict[str, Any]]] = {start: [] for start in starts}
    for point in points:
        second = int(point["Timestamp"].timestamp())
        start = second - second % period
        if start in buckets:
            buckets[start].append(point)
    values: list[float | None] = []
    for start in starts:
        found = buckets[start]
        if not found:
            values.append(None)
            continue
        total, count = sum(p["Sum"] for p in found), sum(p["SampleCount"] for p in found)
        values.append(
            {
                "Sum": total,
                "SampleCount": count,
                "Minimum": min(p["Minimum"] for p in found),
                "Maximum": max(p["Maximum"] for p in found),
                "Average": total / count if count else None,
            }[statistic]
        )
    return values


def _iso(moment: dt.datetime) -> str:
    """CloudWatch's notification time format, ``2026-12-01T16:00:00.000+0000``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _stamp(seconds: float) -> str:
    return _iso(dt.datetime.fromtimestamp(seconds, dt.UTC))


def region_name(region: str) -> str:
    """The region's description as CloudWatch writes it in notifications ("US East (N. Virginia)")."""
    endpoints = botocore.session.get_session().get_data("endpoints")
    for partition in endpoints.get("partitions", []):
        description = partition.get("regions", {}).get(region, {}).get("description")
        if description:
            return str(description)
    return region


def notification(alarm: dict[str, Any], change: Transition, region: str) -> tuple[str, str]:
    """``(subject, message)`` of CloudWatch's alarm notification to SNS (the JSON e-mail subscribers get)."""
    arn = str(alarm.get("AlarmArn", ""))
    account = arn.split(":")[4] if arn.count(":") >= 5 else ""
    updated = alarm.get("AlarmConfigurationUpdatedTimestamp")
    message = {
        "AlarmName": change.alarm,
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _iso(updated) if isinstance(updated, dt.datetime) else None,
        "NewStateValue": change.state,
        "NewStateReason": change.reason,
        "StateChangeTime": _iso(change.at),
        "Region": region_name(region),
        "AlarmArn": arn,
        "OldStateValue": change.previous,
        "OKActions": alarm.get("OKActions", []),
        "AlarmActions": alarm.get("AlarmActions", []),
        "InsufficientDataActions": alarm.get("InsufficientDataActions", []),
        "Trigger": {
            "MetricName": alarm.get("MetricName"),
            "Namespace": alarm.get("Namespace"),
            "StatisticType": "Statistic",
            "Statistic": str(alarm.get("Statistic", "")).upper(),
            "Unit": alarm.get("Unit"),
            "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])],
            "Period": alarm.get("Period"),
            "EvaluationPeriods": alarm.get("EvaluationPeriods"),
            "DatapointsToAlarm": alarm.get("DatapointsToAlarm"),
            "ComparisonOperator": alarm.get("ComparisonOperator"),
            "Threshold": alarm.get("Threshold"),
            "TreatMissingData": alarm.get("TreatMissingData", "missing"),
            "EvaluateLowSampleCountPercentile": "",
        },
    }
    subject = f'{change.state}: "{change.alarm}" in {message["Region"]}'
    return subject[:100], json.dumps(message)


class AlarmEvaluator:
    """Evaluates every metric alarm of the embedded AWS once per ``evaluate()``."""

    def __init__(
        self,
        cloudwatch: Any,
        sns: Any,
        region: str,
        *,
        clock: Callable[[], float] = time.time,
        lag: float = LAG_SECONDS,
    ) -> None:
        self._cloudwatch, self._sns, self._region, self._clock, self._lag = cloudwatch, sns, region, clock, lag
        self._unsupported: set[str] = set()

    @property
    def lag(self) -> float:
        return self._lag

    def clearing(self) -> list[str]:
        """The alarms in ALARM whose newest datapoint no longer breaches: they will be OK within a few
        periods. (A DLQ still holding its dead letters, or a table nobody writes, stays in ALARM.)"""
        names = []
        for alarm in self._cloudwatch.describe_alarms(StateValue="ALARM").get("MetricAlarms", []):
            try:
                rule = Rule.of(alarm)
            except UnsupportedAlarm:
                continue
            starts = period_starts(self._clock(), rule.period, rule.range_periods, self._lag)
            values = [value for value in self._values(alarm, rule, starts) if value is not None]
            if values and not rule.breaches(values[-1]):
                names.append(str(alarm["AlarmName"]))
        return names

    def evaluate(self) -> list[Transition]:
        changes = []
        for page in self._cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
            for alarm in page.get("MetricAlarms", []):
                change = self._one(alarm)
                if change is not None:
                    changes.append(change)
        return changes

    def _one(self, alarm: dict[str, Any]) -> Transition | None:
        name = alarm["AlarmName"]
        try:
            rule = Rule.of(alarm)
            if alarm.get("Statistic") not in ("Sum", "SampleCount", "Minimum", "Maximum", "Average"):
                raise UnsupportedAlarm("only simple statistics are evaluated locally")
        except UnsupportedAlarm as error:
            if name not in self._unsupported:
                self._unsupported.add(name)
                LOG.warning("alarm %s is not evaluated: %s", name, error)
            return None
        now = self._clock()
        starts = period_starts(now, rule.period, rule.range_periods, self._lag)
        values = self._values(alarm, rule, starts)
        current = str(alarm.get("StateValue", "INSUFFICIENT_DATA"))
        decision = evaluate(rule, values, current, starts)
        if decision.state == current:
            return None
        change = Transition(name, current, decision.state, decision.reason, dt.datetime.fromtimestamp(now, dt.UTC))
        self._cloudwatch.set_alarm_state(
            AlarmName=name,
            StateValue=decision.state,
            StateReason=decision.reason[:1023],
            StateReasonData=_reason_data(alarm, rule, decision, starts, values, now),
        )
        self._notify(alarm, change)
        return change

    def _values(self, alarm: dict[str, Any], rule: Rule, starts: list[int]) -> list[float | None]:
        points = self._cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions", []),
            StartTime=dt.datetime.fromtimestamp(starts[0], dt.UTC),
            EndTime=dt.datetime.fromtimestamp(starts[-1] + rule.period, dt.UTC),
            Period=1,
            Statistics=_STATISTICS,
        )["Datapoints"]
        return combine(points, str(alarm["Statistic"]), starts, rule.period)

    def _notify(self, alarm: dict[str, Any], change: Transition) -> None:
        if alarm.get("ActionsEnabled") is False:
            return
        subject, message = notification(alarm, change, self._region)
        for action in alarm.get(_ACTIONS[change.state], []):
            if ":sns:" in action:
                self._sns.publish(TopicArn=action, Subject=subject, Message=message)


def _reason_data(
    alarm: dict[str, Any], rule: Rule, decision: Decision, starts: list[int], values: list[float | None], now: float
) -> str:
    return json.dumps(
        {
            "version": "1.0",
            "queryDate": _stamp(now),
            "startDate": _stamp(starts[0]),
            "statistic": alarm.get("Statistic"),
            "period": rule.period,
            "recentDatapoints": [v for v in values if v is not None],
            "threshold": rule.threshold,
            "evaluatedDatapoints": [{"timestamp": _stamp(s), "value": v} for s, v in decision.evaluated],
        }
    )
