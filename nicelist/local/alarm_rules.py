"""CloudWatch's alarm evaluation rules as one pure function (docs/design.md, "The local stack": alarms).

moto stores alarms but never evaluates them; ``nicelist.local.alarm_eval`` runs this function for
every alarm of the local stack. The rules are the CloudWatch User Guide's, "Alarm evaluation" and
"Configuring how CloudWatch alarms treat missing data"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html):

- each datapoint is the alarm's statistic over one period; periods are aligned to multiples of the
  period (epoch seconds), and only complete periods are evaluated;
- CloudWatch retrieves more datapoints than ``EvaluationPeriods`` (N): the *evaluation range*, here
  ``N + EXTRA_RANGE_PERIODS`` periods (the guide's 3-of-3 example retrieves 5);
- no datapoint of the range missing, or at least N real ones in it: the most recent N real
  datapoints are evaluated and ``TreatMissingData`` is not used;
- fewer than N real datapoints: every real one in the range is evaluated and missing ones fill the
  rest ("uses missing data points only as few times as possible"): ``notBreaching`` as good,
  ``breaching`` as bad; ``ignore`` and ``missing`` fill nothing: ALARM if the real ones already make
  M, OK if they make M impossible, otherwise the state is kept (no premature ALARM);
- every datapoint missing: ``notBreaching`` OK, ``breaching`` ALARM, ``ignore`` the current state,
  ``missing`` INSUFFICIENT_DATA;
- ALARM when at least ``DatapointsToAlarm`` (M) evaluated datapoints breach, else OK;
- alarms on ``AWS/DynamoDB`` metrics always ignore missing data, whatever ``TreatMissingData`` says
  (PutMetricAlarm's reference).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

EXTRA_RANGE_PERIODS = 2
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
TREATMENTS = ("notBreaching", "breaching", "ignore", "missing")
_OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
OPERATORS = tuple(_OPERATORS)


class UnsupportedAlarm(ValueError):
    """An alarm this evaluator cannot judge (anomaly bands, metric math, percentiles)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """What evaluation needs of one alarm (``describe_alarms``' fields)."""

    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing: str
    namespace: str = ""

    @classmethod
    def of(cls, alarm: dict[str, object]) -> Rule:
        comparison = str(alarm.get("ComparisonOperator"))
        if comparison not in _OPERATORS:
            raise UnsupportedAlarm(f"comparison {comparison} is not evaluated locally")
        periods = _positive(alarm.get("EvaluationPeriods"), "EvaluationPeriods")
        return cls(
            period=_positive(alarm.get("Period"), "Period"),
            evaluation_periods=periods,
            datapoints_to_alarm=min(periods, _positive(alarm.get("DatapointsToAlarm") or periods, "DatapointsToAlarm")),
            threshold=float(alarm.get("Threshold") or 0.0),  # type: ignore[arg-type]
            comparison=comparison,
            treat_missing=str(alarm.get("TreatMissingData") or "missing"),
            namespace=str(alarm.get("Namespace") or ""),
        )

    @property
    def range_periods(self) -> int:
        return self.evaluation_periods + EXTRA_RANGE_PERIODS

    @property
    def treatment(self) -> str:
        """``TreatMissingData`` as applied: DynamoDB's metrics always ignore missing data."""
        return "ignore" if self.namespace == "AWS/DynamoDB" else self.treat_missing

    def breaches(self, value: float) -> bool:
        return _OPERATORS[self.comparison][0](value, self.threshold)


def _positive(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UnsupportedAlarm(f"{name} must be a positive integer")
    return value


@dataclass(frozen=True, slots=True)
class Decision:
    """The state the datapoints give, and the CloudWatch-style reason for it."""

    state: str
    reason: str
    evaluated: tuple[tuple[int, float], ...]  # (period start, value) of the real datapoints judged
    breaching: int


def evaluate(rule: Rule, values: Sequence[float | None], current: str, starts: Sequence[int] = ()) -> Decision:
    """The alarm state for the datapoints of the evaluation range, oldest first (None: missing).

    ``starts`` are the periods' start times (epoch seconds), used only in the reason text."""
    starts = list(starts) or list(range(len(values)))
    real = [(start, value) for start, value in zip(starts, values, strict=True) if value is not None]
    n, m = rule.evaluation_periods, rule.datapoints_to_alarm
    if len(real) >= n:
        judged = real[-n:]
        bad = sum(rule.breaches(v) for _, v in judged)
        return _decision(rule, "ALARM" if bad >= m else "OK", judged, bad, filled=0)
    bad = sum(rule.breaches(v) for _, v in real)
    good = len(real) - bad
    fill = n - len(real)
    treatment = rule.treatment
    if not real:
        state = {"notBreaching": "OK", "breaching": "ALARM", "missing": "INSUFFICIENT_DATA"}.get(treatment, current)
        return Decision(state, _no_data_reason(rule, treatment), (), fill if treatment == "breaching" else 0)
    if treatment == "breaching":
        bad += fill
    elif treatment == "notBreaching":
        good += fill
    if bad >= m:
        state = "ALARM"
    elif good > n - m or treatment in ("breaching", "notBreaching"):
        state = "OK"
    else:
        state = current  # ignore / missing: the real datapoints decide nothing yet
    filled = fill if treatment in ("breaching", "notBreaching") else 0
    return _decision(rule, state, real, bad, filled=filled)


def _stamp(start: int) -> str:
    """CloudWatch writes datapoint times as ``dd/mm/yy HH:MM:SS`` (UTC) in its reasons."""
    return dt.datetime.fromtimestamp(start, dt.UTC).strftime("%d/%m/%y %H:%M:%S")


def _decision(rule: Rule, state: str, judged: list[tuple[int, float]], bad: int, *, filled: int) -> Decision:
    words = _OPERATORS[rule.comparison][1]
    shown = ", ".join(f"{_number(v)} ({_stamp(s)})" for s, v in reversed(judged))
    total = len(judged) + filled
    extra = f" and {filled} missing datapoint{'s' * (filled != 1)} treated as {rule.treatment}" if filled else ""
    if state == "ALARM":
        verdict = f"{bad} out of the last {total} datapoints [{shown}]{extra} were {words} the threshold"
        transition = "OK -> ALARM"
    else:
        verdict = f"{total - bad} out of the last {total} datapoints [{shown}]{extra} were not {words} the threshold"
        transition = "ALARM -> OK"
    minimum = rule.datapoints_to_alarm
    reason = (
        f"Threshold Crossed: {verdict} ({_number(rule.threshold)}) "
        f"(minimum {minimum} datapoint{'s' * (minimum != 1)} for {transition} transition)."
    )
    return Decision(state, reason, tuple(judged), bad)


def _no_data_reason(rule: Rule, treatment: str) -> str:
    n = rule.range_periods
    shown = {"notBreaching": "NonBreaching", "breaching": "Breaching", "ignore": "Ignore", "missing": "Missing"}
    return (
        f"Threshold Crossed: no datapoints were received for {n} periods and {n} missing datapoints "
        f"were treated as [{shown.get(treatment, treatment)}]."
    )


def _number(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else str(value)


def period_starts(now: float, period: int, count: int, lag: float) -> list[int]:
    """The start times of the last ``count`` complete aligned periods before ``now - lag``, oldest first."""
    newest_end = math.floor((now - lag) / period) * period
    return [newest_end - period * (count - i) for i in range(count)]
