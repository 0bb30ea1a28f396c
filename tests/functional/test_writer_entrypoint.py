"""The Lambda entry point: never a wrong response, and what it leaves in CloudWatch (EMF, JSON logs)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

import writer.handler
from tests.support.events import envelope, lambda_context, location, sqs_record, status
from tests.support.writer import Stage
from writer.handler import handle, lambda_handler
from writer.observability import logger, metrics
from writer.processor import CoalescingBatchProcessor, InvalidResponse

AT = "2026-12-23T18:04:05Z"


def test_a_response_that_would_drop_a_failed_message_raises(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a message that cannot be written (the deadline is too close) ...
    event = {"Records": [sqs_record(status("c-1", AT), message_id="m-1")]}
    # ... and a response builder that forgets it
    monkeypatch.setattr(CoalescingBatchProcessor, "response", lambda self: {"batchItemFailures": []})
    # THEN the handler raises (Lambda fails the whole batch) rather than let SQS delete m-1
    with pytest.raises(InvalidResponse):
        handle(event, lambda_context(timeout_s=1.0), stage.deps(deadline_margin_ms=5000))


def test_a_response_naming_a_message_that_is_done_raises(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    event = {"Records": [sqs_record(status("c-1", AT), message_id="m-1")]}
    wrong = {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "not-in-batch"}]}
    monkeypatch.setattr(CoalescingBatchProcessor, "response", lambda self: wrong)
    with pytest.raises(InvalidResponse):
        handle(event, lambda_context(), stage.deps())


def test_an_unexpected_error_in_a_write_fails_the_whole_batch(stage: Stage) -> None:
    deps = stage.deps()

    def explode(**_: Any) -> None:
        raise RuntimeError("bug")

    deps.dynamodb.meta.events.register("before-call.dynamodb.PutItem", explode)
    event = {"Records": [sqs_record(status("c-1", AT), message_id="m-1")]}
    with pytest.raises(RuntimeError):
        handle(event, lambda_context(), deps)


@pytest.mark.parametrize("event", [{}, {"Records": None}, {"Records": "x"}])
def test_an_event_that_is_not_from_sqs_raises(stage: Stage, event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not an SQS event"):
        handle(event, lambda_context(), stage.deps())


@pytest.fixture
def lambda_env(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> Stage:
    """The entry point builds its own deps from NICELIST_* (fresh, as in a new execution environment)."""
    monkeypatch.setenv("NICELIST_STAGE", "test")
    monkeypatch.setenv("NICELIST_DLQ_URL", stage.dlq_url)
    monkeypatch.setenv("NICELIST_WRITE_RATE", "10000")
    monkeypatch.setattr(writer.handler, "_deps", None)
    metrics.clear_metrics()  # handle() called directly by other tests adds metrics nobody flushed
    return stage


def documents(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_lambda_handler_writes_and_emits_metrics_and_a_log_line_without_children_data(
    lambda_env: Stage, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a batch with a reason, coordinates, an invalid update and a broken body,
    # and the logger writing to this test's stdout
    monkeypatch.setattr(logger.registered_handler, "stream", sys.stdout)
    event = {
        "Records": [
            sqs_record(status("c-secret", AT, "naughty", reason="ate the cookies early"), message_id="m-1"),
            sqs_record(
                envelope(
                    location("c-secret", AT, lat=51.50729, lon=-0.12763, accuracy_m=12.5),
                    location("c-other", AT, lat=91.12345, lon=3.14159),
                ),
                message_id="m-2",
            ),
            sqs_record('{"kind": "location", "child_id": "c-secret", "lat": 48.85661', message_id="m-3"),
        ]
    }
    # WHEN Lambda calls the decorated entry point
    response = lambda_handler(event, lambda_context())
    out = capsys.readouterr().out
    # THEN the batch is written and fully acknowledged
    assert response == {"batchItemFailures": []}
    assert {"STATUS", "LOCATION"} <= set(lambda_env.items("c-secret"))
    docs = documents(out)
    # AND one EMF document carries the batch's metrics
    [emf] = [d for d in docs if "_aws" in d]
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "nicelist"
    names = {m["Name"] for m in directive["Metrics"]}
    assert {"UpdatesReceived", "UpdatesWritten", "UpdatesDeadLettered", "WriteUnits", "BatchDuration"} <= names
    assert emf["UpdatesReceived"] in (2.0, [2.0]) and emf["UpdatesDeadLettered"] in (1.0, [1.0])
    assert emf["stage"] == "test"
    # AND a JSON summary line at INFO, with the invocation's request id
    [summary] = [d for d in docs if d.get("message") == "batch done"]
    assert summary["level"] == "INFO"
    assert summary["function_request_id"] and summary["messages"] == 3
    # AND nothing in the output carries an update body, a reason, a coordinate or a child id
    for secret in ("48.85661", "51.50729", "0.12763", "91.12345", "3.14159", "cookies", "c-secret", "c-other"):
        assert secret not in out, secret
    assert all(d.get("level") in {None, "INFO", "WARNING"} for d in docs)


@pytest.mark.filterwarnings("ignore:No application metrics")  # a failed batch publishes none
def test_lambda_handler_raises_when_the_response_check_fails(
    lambda_env: Stage, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NICELIST_DEADLINE_MARGIN_MS", "5000")
    monkeypatch.setattr(CoalescingBatchProcessor, "response", lambda self: {"batchItemFailures": []})
    event = {"Records": [sqs_record(status("c-1", AT), message_id="m-1")]}
    with pytest.raises(InvalidResponse):
        lambda_handler(event, lambda_context(timeout_s=1.0))
    assert lambda_env.items("c-1") == {}
