"""A writer stand-in whose behaviour each message's body chooses, recording every invocation.

Bodies: ``ok`` (or anything else), ``fail`` (always a batch item failure), ``fail-once`` (a failure on
its first delivery), ``raise-once``, ``garbage-once`` (an invalid response), ``unknown-id-once``,
``sleep-once`` (sleeps past any test timeout), ``crash-once`` (``os._exit``), ``sleep:<seconds>``,
``backoff-once`` (a failure on its first delivery after setting its own visibility to 1 s, as the
writer does; the queue URL comes from ``QUEUE_URL``).
"Once" means: only while ``ApproximateReceiveCount`` is 1. Records go, one JSON line per invocation,
to the file named by ``RECORD_PATH``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

_INVOCATIONS = 0  # module state: survives between invocations of one execution only


def _first(record: dict[str, Any]) -> bool:
    return record["attributes"]["ApproximateReceiveCount"] == "1"


def _record(event: dict[str, Any], context: Any) -> None:
    global _INVOCATIONS  # noqa: PLW0603 - the point: module state per execution environment
    _INVOCATIONS += 1
    line = {
        "pid": os.getpid(),
        "invocation": _INVOCATIONS,
        "bodies": [r["body"] for r in event["Records"]],
        "ids": [r["messageId"] for r in event["Records"]],
        "receive_counts": [int(r["attributes"]["ApproximateReceiveCount"]) for r in event["Records"]],
        "records": event["Records"],
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "started": time.time(),
    }
    with open(os.environ["RECORD_PATH"], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def handler(event: dict[str, Any], context: Any) -> Any:
    _record(event, context)
    failures = []
    for record in event["Records"]:
        body, first = record["body"], _first(record)
        if body == "raise-once" and first:
            raise RuntimeError("the handler raised")
        if body == "garbage-once" and first:
            return "garbage"
        if body == "unknown-id-once" and first:
            return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
        if body == "crash-once" and first:
            os._exit(3)
        if body == "sleep-once" and first:
            time.sleep(60)
        if body.startswith("sleep:"):
            time.sleep(float(body.split(":", 1)[1]))
        if body == "backoff-once" and first:
            import boto3  # noqa: PLC0415 - only this behaviour talks to SQS

            boto3.client("sqs").change_message_visibility(
                QueueUrl=os.environ["QUEUE_URL"], ReceiptHandle=record["receiptHandle"], VisibilityTimeout=1
            )
        if body == "fail" or (body in {"fail-once", "backoff-once"} and first):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def remaining(event: dict[str, Any], context: Any) -> None:
    """Returns None, which Lambda takes as "all succeeded"."""
    _record(event, context)
