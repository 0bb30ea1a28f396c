"""One execution environment: the process ``python -m nicelist.local.execution --name writer-exec-N``.

Like Lambda's runtime it imports the handler once (init), then serves invocations one at a time, so
module state survives between invocations of this process and nowhere else. It speaks JSON lines:
requests on stdin, one ready line then one result per request on the original stdout; whatever the
handler prints goes to stderr, as Lambda sends it to CloudWatch Logs. This module must import nothing
heavy: it is the cold start.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from nicelist.local.context import LambdaContext

Handler = Callable[[Any, LambdaContext], Any]


def load_handler(path: str) -> Handler:
    """``module:function`` (or Lambda's ``module.function``) to the callable."""
    module_name, _, function_name = path.rpartition(":") if ":" in path else path.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), function_name)
    return handler


def _context(request: dict[str, Any]) -> LambdaContext:
    env = os.environ
    return LambdaContext(
        function_name=env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        function_version=env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        invoked_function_arn=request["invoked_function_arn"],
        memory_limit_in_mb=int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
        aws_request_id=request["request_id"],
        log_group_name=env.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
        log_stream_name=env.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
        deadline_ms=int(request["deadline_ms"]),
    )


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error_type": error_type, "error_message": message}


def invoke(handler: Handler, request: dict[str, Any]) -> dict[str, Any]:
    """Run one invocation; every handler failure becomes an error result (Lambda's "function error")."""
    try:
        response = handler(request["event"], _context(request))
    except Exception as error:  # the handler's failure is the result, reported to the runtime
        traceback.print_exc(file=sys.stderr)
        return _error(type(error).__name__, str(error))
    try:
        json.dumps(response)
    except (TypeError, ValueError) as error:
        return _error("Runtime.MarshalError", f"Unable to marshal response: {error}")
    return {"ok": True, "response": response}


def _send(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def serve(handler_path: str, requests: TextIO, results: TextIO) -> int:
    """Init, then answer requests until stdin closes (the runtime stopped or died)."""
    try:
        handler = load_handler(handler_path)
    except Exception as error:  # Runtime.ImportModuleError: reported, then this environment exits
        traceback.print_exc(file=sys.stderr)
        _send(results, {"ready": False, "init_error": f"{type(error).__name__}: {error}"})
        return 1
    _send(results, {"ready": True})
    for line in requests:
        _send(results, invoke(handler, json.loads(line)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nicelist.local.execution")
    parser.add_argument("--name", required=True, help="shown in ps, e.g. writer-exec-3")
    parser.add_argument("--handler", required=True, help="module:function")
    args = parser.parse_args(argv)
    # Ctrl-C reaches the whole process group; the runtime decides when executions end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    results = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return serve(args.handler, sys.stdin, results)


if __name__ == "__main__":
    sys.exit(main())
