"""Inside an execution: the context's deadline, result shapes, and the JSON-lines protocol."""

from __future__ import annotations

import io
import json
from typing import Any

from nicelist.local.context import LambdaContext
from nicelist.local.execution import invoke, load_handler, serve

REQUEST = {
    "event": {"Records": []},
    "request_id": "r-1",
    "invoked_function_arn": "arn:x",
    "deadline_ms": 10_000,
}


def test_remaining_time_comes_from_the_deadline() -> None:
    now = [4_000]
    context = LambdaContext("f", "$LATEST", "arn:x", 128, "r", "g", "s", deadline_ms=10_000, clock_ms=lambda: now[0])

    assert context.get_remaining_time_in_millis() == 6_000
    now[0] = 12_000
    assert context.get_remaining_time_in_millis() == 0


def test_a_handler_exception_is_an_error_result() -> None:
    def handler(event: Any, context: Any) -> Any:
        raise ValueError("boom")

    assert invoke(handler, REQUEST) == {"ok": False, "error_type": "ValueError", "error_message": "boom"}


def test_a_response_json_cannot_carry_is_a_marshal_error() -> None:
    result = invoke(lambda event, context: {"x": object()}, REQUEST)

    assert result["ok"] is False
    assert result["error_type"] == "Runtime.MarshalError"


def test_the_handler_gets_the_event_and_a_context() -> None:
    result = invoke(lambda event, context: [event, context.aws_request_id, context.invoked_function_arn], REQUEST)

    assert result == {"ok": True, "response": [{"Records": []}, "r-1", "arn:x"]}


def test_handlers_load_from_module_colon_function_or_lambdas_dotted_form() -> None:
    assert load_handler("json:dumps") is json.dumps
    assert load_handler("json.dumps") is json.dumps


def test_serve_reports_ready_then_one_result_per_request() -> None:
    results = io.StringIO()

    code = serve("json:dumps", io.StringIO(json.dumps(REQUEST) + "\n"), results)

    lines = [json.loads(line) for line in results.getvalue().splitlines()]
    assert code == 0
    assert lines == [
        {"ready": True},
        {"ok": False, "error_type": "TypeError", "error_message": lines[1]["error_message"]},
    ]


def test_an_import_error_is_reported_at_init() -> None:
    results = io.StringIO()

    assert serve("no_such_module_here:handler", io.StringIO(), results) == 1
    assert json.loads(results.getvalue())["ready"] is False
