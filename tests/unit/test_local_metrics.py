"""The local CloudWatch's inputs: EMF documents (hostile log lines) and the queue-age estimate."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nicelist.local.alarm_eval import combine
from nicelist.local.emf import MAX_METRICS, parse_line
from nicelist.local.notifications import parse_notification
from nicelist.local.queue_age import QueueAgeTracker


def _document(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": 1764604800123,
            "CloudWatchMetrics": [
                {
                    "Namespace": "nicelist",
                    "Dimensions": [["service", "stage"]],
                    "Metrics": [{"Name": "UpdatesDeadLettered", "Unit": "Count"}, {"Name": "BatchDuration"}],
                }
            ],
        },
        "service": "nicelist-writer",
        "stage": "local",
        "UpdatesDeadLettered": 2,
        "BatchDuration": [0.5, 1.5],
        "function_request_id": "r-1",
    }
    document.update(overrides)
    return document


def test_a_powertools_document_becomes_metric_data() -> None:
    data = parse_line(json.dumps(_document()))
    dimensions = [{"Name": "service", "Value": "nicelist-writer"}, {"Name": "stage", "Value": "local"}]
    at = dt.datetime(2025, 12, 1, 16, 0, tzinfo=dt.UTC)  # floored to the second
    assert data == [
        ("nicelist", {"MetricName": "UpdatesDeadLettered", "Timestamp": at, "Values": [2.0], "Unit": "Count",
                      "StorageResolution": 60, "Dimensions": dimensions}),
        ("nicelist", {"MetricName": "BatchDuration", "Timestamp": at, "Values": [0.5, 1.5],
                      "StorageResolution": 60, "Dimensions": dimensions}),
    ]  # fmt: skip


def test_documents_cloudwatch_would_reject_yield_nothing() -> None:
    good = _document()
    meta = good["_aws"]
    reserved = [{"Namespace": "AWS/SQS", "Dimensions": [], "Metrics": [{"Name": "UpdatesDeadLettered"}]}]
    too_many = [{"Namespace": "n", "Dimensions": [], "Metrics": [{"Name": f"m{i}"} for i in range(MAX_METRICS + 1)]}]
    broken = [
        {**good, "_aws": {**meta, "Timestamp": "1764604800123"}},  # not a number
        {**good, "_aws": {**meta, "Timestamp": True}},
        {**good, "stage": 7},  # a dimension value that is not a string
        {**good, "_aws": {**meta, "CloudWatchMetrics": reserved}},  # AWS/ namespaces are AWS's
        {**good, "_aws": {**meta, "CloudWatchMetrics": too_many}},
        {**good, "UpdatesDeadLettered": list(range(101))},  # more than 100 values
    ]
    for document in broken:
        assert parse_line(json.dumps(document)) == [], document
    assert parse_line('{"_aws": {"Timestamp": 1, "x": NaN}}') == []  # not strict JSON
    assert parse_line('{"_aws": 1, "_aws": 2}') == []  # duplicate keys
    assert parse_line("plain text mentioning _aws") == []
    # values that are not finite numbers are dropped, the others kept
    [(_, datum)] = parse_line(json.dumps({**good, "BatchDuration": [True, "1", 2]}))[1:]
    assert datum["Values"] == [2.0]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(st.text(max_size=300) | _json.map(json.dumps) | _json.map(lambda v: json.dumps({"_aws": v, "m": v})))
def test_any_line_gives_well_formed_data_or_nothing(text: str) -> None:
    for namespace, datum in parse_line(text):
        assert isinstance(namespace, str) and 1 <= len(namespace) <= 255 and not namespace.startswith("AWS/")
        assert isinstance(datum["MetricName"], str) and datum["Values"]
        assert all(isinstance(v, float) for v in datum["Values"])
        assert all(isinstance(d["Value"], str) for d in datum["Dimensions"])


@given(_json.map(json.dumps) | st.text(max_size=200))
def test_any_inbox_message_is_a_notification_with_string_fields_or_nothing(body: str) -> None:
    line = parse_notification(body)
    assert line is None or all(isinstance(value, str) for value in line.values())


def test_one_second_statistics_combine_into_aligned_periods() -> None:
    def point(second: int, value: float) -> dict[str, Any]:
        at = dt.datetime.fromtimestamp(second, dt.UTC)
        return {"Timestamp": at, "Sum": value, "SampleCount": 1.0, "Minimum": value, "Maximum": value}

    points = [point(1000, 2.0), point(1009, 5.0), point(1010, 1.0), point(1031, 3.0)]
    starts = [1000, 1010, 1020, 1030]
    assert combine(points, "Sum", starts, 10) == [7.0, 1.0, None, 3.0]
    assert combine(points, "Maximum", starts, 10) == [5.0, 1.0, None, 3.0]
    assert combine(points, "Average", starts, 10) == [3.5, 1.0, None, 3.0]
    assert combine(points, "SampleCount", starts, 10) == [2.0, 1.0, None, 1.0]


# -- the queue-age estimate against a model queue ------------------------------------------------


def _message(index: int, sent: float) -> dict[str, Any]:
    attributes = {"SentTimestamp": str(int(sent * 1000))}
    return {"MessageId": f"m{index}", "ReceiptHandle": f"h{index}-{sent}", "Attributes": attributes}


@given(st.lists(st.tuples(st.sampled_from(["send", "receive", "delete", "return"]), st.integers(1, 5)), max_size=60))
def test_the_estimate_bounds_the_oldest_message_from_above_and_is_exact_for_received_ones(
    steps: list[tuple[str, int]],
) -> None:
    # A model of moto's queue: visible messages handed out oldest first; received ones in flight until
    # deleted or returned (visible again, same id). Time advances one second a step.
    tracker = QueueAgeTracker(started=0.0, forget_after=10_000)
    visible: list[tuple[int, float]] = []  # (index, sent), oldest first
    in_flight: dict[int, tuple[float, str]] = {}
    now, sent_count = 0.0, 0
    for action, count in steps:
        now += 1.0
        if action == "send":
            for _ in range(count):
                visible.append((sent_count, now))
                sent_count += 1
        elif action == "receive":
            taken, visible = sorted(visible, key=lambda m: m[1])[:count], sorted(visible, key=lambda m: m[1])[count:]
            messages = [_message(index, sent) for index, sent in taken]
            tracker.received_messages(messages, now)
            in_flight.update(
                {index: (sent, m["ReceiptHandle"]) for (index, sent), m in zip(taken, messages, strict=True)}
            )
        elif action == "delete":
            done = list(in_flight)[:count]
            tracker.deleted_handles([in_flight.pop(index)[1] for index in done])
        else:  # returned: visible again after its timeout
            for index in list(in_flight)[:count]:
                visible.append((index, in_flight.pop(index)[0]))
        sents = [sent for _, sent in visible] + [sent for sent, _ in in_flight.values()]
        estimate = tracker.age(now, len(visible), len(in_flight), 0)
        if not sents:
            assert estimate == 0
            continue
        oldest = now - min(sents)
        assert estimate >= oldest - 1e-6  # never below the truth
        received_oldest = max((now - sent for sent, _ in in_flight.values()), default=0.0)
        assert estimate >= received_oldest - 1e-6
        if not visible:  # only received messages: exact
            assert abs(estimate - oldest) < 1e-6
