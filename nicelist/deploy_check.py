"""``nicelist deploy check``: prove a deployed stage avoids every trap in DESIGN.md.

Returns every problem found, not the first: an operator fixes them in one pass."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from nicelist.alarms import AlarmThresholds, alarm_specs
from nicelist.console import error_code
from nicelist.mapping import MIN_MAXIMUM_CONCURRENCY, find_mappings, reserved_concurrency
from nicelist.names import StageNames

_LOG_LEVEL_VARIABLES = ("LOG_LEVEL", "POWERTOOLS_LOG_LEVEL")


def _function(lambda_client: Any, name: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        configuration: dict[str, Any] = lambda_client.get_function_configuration(FunctionName=name)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        problems.append(f"function {name} is missing")
        return None
    variables = configuration.get("Environment", {}).get("Variables", {})
    for variable in _LOG_LEVEL_VARIABLES:
        if variables.get(variable) != "INFO":
            problems.append(f"{name}: {variable} is {variables.get(variable)!r}, not 'INFO' (events would be logged)")
    return configuration


def _queues(sqs: Any, names: StageNames, problems: list[str]) -> dict[str, dict[str, str]] | None:
    found = {}
    for name in (names.queue, names.dlq):
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as error:
            if "NonExistentQueue" not in error_code(error) and error_code(error) != "QueueDoesNotExist":
                raise
            problems.append(f"queue {name} is missing")
            continue
        found[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return found if len(found) == 2 else None


def _queue_problems(queue: dict[str, str], dlq: dict[str, str], timeout: int | None) -> list[str]:
    problems = []
    redrive = json.loads(queue.get("RedrivePolicy", "{}"))
    if redrive.get("deadLetterTargetArn") != dlq["QueueArn"]:
        problems.append("the queue does not redrive to the stage's DLQ")
    if int(redrive.get("maxReceiveCount", 0)) < 5:
        problems.append(f"maxReceiveCount is {redrive.get('maxReceiveCount')}, must be >= 5")
    if timeout is not None and int(queue["VisibilityTimeout"]) < 6 * timeout:
        problems.append(f"visibility timeout {queue['VisibilityTimeout']} s < 6 x the writer's {timeout} s timeout")
    if int(dlq["MessageRetentionPeriod"]) <= int(queue["MessageRetentionPeriod"]):
        problems.append("the DLQ's retention is not longer than the queue's")
    return problems


def _mapping_problems(lambda_client: Any, function: str, queue_arn: str, shared_by: int | None) -> list[str]:
    """``shared_by``: how many executions the writers divide the budget by (None: unknown)."""
    problems = []
    reserved = reserved_concurrency(lambda_client, function)
    if reserved is None:
        problems.append(f"{function} has no reserved concurrency (zappa update without lambda_concurrency?)")
    mappings = find_mappings(lambda_client, function, queue_arn)
    if not mappings:
        return [
            *problems,
            "no event source mapping from the queue to the writer: run `nicelist deploy configure`",
        ]
    for mapping in mappings:
        if mapping.get("State") not in {"Enabled", "Enabling", "Updating"}:
            problems.append(f"mapping {mapping['UUID']} is {mapping.get('State')}")
        if "ReportBatchItemFailures" not in (mapping.get("FunctionResponseTypes") or []):
            problems.append(f"mapping {mapping['UUID']} lacks ReportBatchItemFailures: failures are lost")
        maximum = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if maximum is None:
            problems.append(f"mapping {mapping['UUID']} has no MaximumConcurrency: the poller outruns the function")
        elif maximum < MIN_MAXIMUM_CONCURRENCY or (reserved is not None and maximum > reserved):
            problems.append(f"mapping {mapping['UUID']} MaximumConcurrency {maximum} is not 2..{reserved}")
        if maximum is not None and shared_by != maximum:
            problems.append(
                f"the writers split the write rate by {shared_by} but MaximumConcurrency is {maximum}: "
                "run `nicelist deploy configure` (it sets the writer-concurrency parameter)"
            )
    return problems


def _shared_by(ssm: Any, names: StageNames, writer: dict[str, Any]) -> int | None:
    """What the writers divide the budget by: the parameter, else their NICELIST_CONCURRENCY."""
    try:
        return int(ssm.get_parameter(Name=names.writer_concurrency_parameter)["Parameter"]["Value"])
    except ClientError as error:
        if error_code(error) != "ParameterNotFound":
            raise
    value = writer.get("Environment", {}).get("Variables", {}).get("NICELIST_CONCURRENCY")
    return None if value is None else int(value)


def _alarm_problems(cloudwatch: Any, names: StageNames) -> list[str]:
    expected = [spec["AlarmName"] for spec in alarm_specs(names, "", AlarmThresholds())]
    found = {a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=expected)["MetricAlarms"]}
    return [f"alarm {name} is missing: run `nicelist provision`" for name in expected if name not in found]


def check_stage(lambda_client: Any, sqs: Any, cloudwatch: Any, ssm: Any, stage: str) -> list[str]:
    """Every problem of the deployed stage, as sentences; empty when the stage is sound."""
    names = StageNames(stage)
    problems: list[str] = []
    writer = _function(lambda_client, names.writer_function, problems)
    _function(lambda_client, names.api_function, problems)
    queues = _queues(sqs, names, problems)
    if queues is not None:
        timeout = None if writer is None else int(writer["Timeout"])
        problems += _queue_problems(queues[names.queue], queues[names.dlq], timeout)
        if writer is not None:
            shared_by = _shared_by(ssm, names, writer)
            problems += _mapping_problems(
                lambda_client, names.writer_function, queues[names.queue]["QueueArn"], shared_by
            )
    problems += _alarm_problems(cloudwatch, names)
    return problems
