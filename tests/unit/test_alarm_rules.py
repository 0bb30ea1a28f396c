"""CloudWatch's alarm evaluation rules (nicelist/local/alarm_rules.py): M of N, missing data, operators."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nicelist.alarms import WRITER_NAMESPACE, WRITER_SERVICE
from nicelist.local.alarm_rules import OPERATORS, STATES, TREATMENTS, Rule, UnsupportedAlarm, evaluate, period_starts
from writer.observability import NAMESPACE, SERVICE


def rule(n: int = 5, m: int = 3, treat: str = "notBreaching", op: str = "GreaterThanThreshold", **kw: object) -> Rule:
    return Rule(period=10, evaluation_periods=n, datapoints_to_alarm=m, threshold=0.0, comparison=op,
                treat_missing=treat, **kw)  # type: ignore[arg-type]  # fmt: skip


X, G, _ = 1.0, 0.0, None  # breaching, not breaching, missing (threshold 0, greater than)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([G, G, X, X, X, G, G], "ALARM"),  # the last five real: X X X O O -> 3 of 5
        ([G, G, G, X, X, G, X], "ALARM"),
        ([X, X, X, X, G, G, G], "OK"),  # older breaches left the last five
        ([G, G, X, G, X, G, X], "ALARM"),  # not consecutive: M of N
        ([X, X, G, G, G, X, X], "OK"),  # 2 of the last 5
    ],
)
def test_m_of_n_on_the_most_recent_real_datapoints(values: list[float | None], expected: str) -> None:
    assert evaluate(rule(), values, "OK").state == expected


@pytest.mark.parametrize(
    ("treat", "values", "current", "expected"),
    [
        # every datapoint missing
        ("notBreaching", [_] * 7, "ALARM", "OK"),
        ("breaching", [_] * 7, "OK", "ALARM"),
        ("ignore", [_] * 7, "ALARM", "ALARM"),
        ("ignore", [_] * 7, "OK", "OK"),
        ("missing", [_] * 7, "OK", "INSUFFICIENT_DATA"),
        # fewer real datapoints than N: filled as few times as possible, every real one judged
        ("notBreaching", [X, X, X, _, _, _, _], "OK", "ALARM"),  # 3 real breaching + 2 good fills
        ("notBreaching", [X, X, _, _, _, _, _], "ALARM", "OK"),
        ("breaching", [G, G, G, _, _, _, _], "OK", "OK"),  # 3 good real: 2 bad fills make 2 of 5
        ("breaching", [G, _, _, _, _, _, _], "OK", "ALARM"),  # 1 good + 4 bad fills
        ("ignore", [X, X, X, _, _, _, _], "OK", "ALARM"),  # the real ones make M
        ("ignore", [G, G, G, _, _, _, _], "ALARM", "OK"),  # 3 good: M is impossible
        ("ignore", [X, G, _, _, _, _, _], "ALARM", "ALARM"),  # undecided: kept
        ("missing", [X, X, _, _, _, _, _], "OK", "OK"),  # no premature ALARM
        ("missing", [X, X, X, _, _, _, _], "OK", "ALARM"),
        # enough real datapoints: the treatment does not matter
        ("breaching", [G, _, G, G, _, G, G], "ALARM", "OK"),
    ],
)
def test_missing_data(treat: str, values: list[float | None], current: str, expected: str) -> None:
    assert evaluate(rule(treat=treat), values, current).state == expected


def test_dynamodb_alarms_ignore_missing_data_whatever_they_say() -> None:
    dynamodb = rule(treat="notBreaching", namespace="AWS/DynamoDB")
    assert evaluate(dynamodb, [_] * 7, "ALARM").state == "ALARM"
    assert evaluate(rule(treat="notBreaching", namespace="AWS/SQS"), [_] * 7, "ALARM").state == "OK"


@pytest.mark.parametrize(
    ("op", "value", "breaches"),
    [
        ("GreaterThanThreshold", 0.0, False),
        ("GreaterThanThreshold", 0.5, True),
        ("GreaterThanOrEqualToThreshold", 0.0, True),
        ("LessThanThreshold", 0.0, False),
        ("LessThanThreshold", -0.5, True),
        ("LessThanOrEqualToThreshold", 0.0, True),
        ("LessThanOrEqualToThreshold", 0.5, False),
    ],
)
def test_operators(op: str, value: float, breaches: bool) -> None:
    assert evaluate(rule(n=1, m=1, op=op), [value], "OK").state == ("ALARM" if breaches else "OK")


def test_reasons_read_like_cloudwatchs() -> None:
    starts = [1764604800 + 10 * i for i in range(7)]
    decision = evaluate(rule(), [G, G, 4.0, G, 2.0, G, 1.0], "OK", starts)
    assert decision.reason == (
        "Threshold Crossed: 3 out of the last 5 datapoints [1.0 (01/12/25 16:01:00), 0.0 (01/12/25 16:00:50), "
        "2.0 (01/12/25 16:00:40), 0.0 (01/12/25 16:00:30), 4.0 (01/12/25 16:00:20)] were greater than the "
        "threshold (0.0) (minimum 3 datapoints for OK -> ALARM transition)."
    )
    quiet = evaluate(rule(), [_] * 7, "ALARM")
    assert quiet.reason == (
        "Threshold Crossed: no datapoints were received for 7 periods and 7 missing datapoints were treated as "
        "[NonBreaching]."
    )


def test_rule_of_a_described_alarm_refuses_what_it_cannot_judge() -> None:
    alarm = {"Period": 10, "EvaluationPeriods": 5, "DatapointsToAlarm": 3, "Threshold": 900.0, "Namespace": "AWS/SQS",
             "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching"}  # fmt: skip
    assert Rule.of(alarm) == Rule(10, 5, 3, 900.0, "GreaterThanThreshold", "notBreaching", "AWS/SQS")
    assert Rule.of({**alarm, "DatapointsToAlarm": None}).datapoints_to_alarm == 5  # absent: N of N
    assert Rule.of({**alarm, "TreatMissingData": None}).treat_missing == "missing"  # CloudWatch's default
    with pytest.raises(UnsupportedAlarm):
        Rule.of({**alarm, "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"})
    with pytest.raises(UnsupportedAlarm):
        Rule.of({**alarm, "Period": 0})


def test_periods_are_aligned_and_complete() -> None:
    assert period_starts(1000.0, 10, 3, 2.0) == [960, 970, 980]  # 990 ends at 1000, not 2 s ago
    assert period_starts(1002.0, 10, 3, 2.0) == [970, 980, 990]


def test_the_alarm_names_the_writers_own_metric_dimensions() -> None:
    assert (WRITER_NAMESPACE, WRITER_SERVICE) == (NAMESPACE, SERVICE)


# -- against an independent oracle --------------------------------------------------------------


def oracle(n: int, m: int, treat: str, breaching: list[bool | None], current: str) -> str:
    """The guide's rules restated from scratch: choose the N datapoints to judge, then count."""
    real = [b for b in breaching if b is not None]
    if not real:
        return {"notBreaching": "OK", "breaching": "ALARM", "ignore": current, "missing": "INSUFFICIENT_DATA"}[treat]
    if len(real) >= n:
        return "ALARM" if real[-n:].count(True) >= m else "OK"
    missing_slots = n - len(real)
    bad = real.count(True)
    if treat == "breaching":
        return "ALARM" if bad + missing_slots >= m else "OK"
    if treat == "notBreaching":
        return "ALARM" if bad >= m else "OK"
    if bad >= m:
        return "ALARM"
    if bad + missing_slots < m:
        return "OK"
    return current


@given(
    n=st.integers(1, 6),
    data=st.data(),
    treat=st.sampled_from(TREATMENTS),
    op=st.sampled_from(OPERATORS),
    current=st.sampled_from(STATES),
)
def test_matches_the_oracle(n: int, data: st.DataObject, treat: str, op: str, current: str) -> None:
    m = data.draw(st.integers(1, n))
    values = data.draw(st.lists(st.none() | st.floats(-3, 3, allow_nan=False), min_size=n + 2, max_size=n + 2))
    judged = rule(n, m, treat, op)
    breaching = [None if v is None else judged.breaches(v) for v in values]
    decision = evaluate(judged, values, current)
    assert decision.state == oracle(n, m, treat, breaching, current)
    assert decision.state in STATES
