"""``nicelist deploy check``: prove a deployed stage avoids every trap in docs/design.md ("Known traps").

Returns every problem found, not the first: an operator fixes them in one pass."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from contract.delivery import DEFAULT_MAX_RECEIVE_COUNT, MIN_MAX_RECEIVE_COUNT, min_visibility_timeout
from contract.names import StageNames
from nicelist.alarms import AlarmThresholds, alarm_specs
from nicelist.console import error_code
from nicelist.mapping import MIN_MAXIMUM_CONCURRENCY, find_mappings, reserved_concurrency
from nicelist.resources import find_queue_url

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
        url = find_queue_url(sqs, name)
        if url is None:
            problems.append(f"queue {name} is missing")
            continue
        found[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return found if len(found) == 2 else None


def _queue_problems(queue: dict[str, str], dlq: dict[str, str], writer: dict[str, Any] | None) -> list[str]:
    problems = []
    redrive = json.loads(queue.get("RedrivePolicy", "{}"))
    if redrive.get("deadLetterTargetArn") != dlq["QueueArn"]:
        problems.append("the queue does not redrive to the stage's DLQ")
    receives = int(redrive.get("maxReceiveCount", 0))
    if receives < MIN_MAX_RECEIVE_COUNT:
        problems.append(f"maxReceiveCount is {redrive.get('maxReceiveCount')}, must be >= {MIN_MAX_RECEIVE_COUNT}")
    if writer is not None:
        problems += _writer_queue_problems(queue, receives, writer)
    if int(dlq["MessageRetentionPeriod"]) <= int(queue["MessageRetentionPeriod"]):
        problems.append("the DLQ's retention is not longer than the queue's")
    return problems


def _writer_queue_problems(queue: dict[str, str], receives: int, writer: dict[str, Any]) -> list[str]:
    """The writer's assumptions about its queue, against the queue: visibility and receive count."""
    problems = []
    timeout = int(writer["Timeout"])
    if int(queue["VisibilityTimeout"]) < min_visibility_timeout(timeout):
        problems.append(
            f"visibility timeout {queue['VisibilityTimeout']} s < {min_visibility_timeout(timeout)} s "
            f"(the writer's {timeout} s timeout x the rule)"
        )
    variables = writer.get("Environment", {}).get("Variables", {})
    assumed = variables.get("NICELIST_MAX_RECEIVE_COUNT", str(DEFAULT_MAX_RECEIVE_COUNT))
    if assumed != str(receives):
        problems.append(
            f"the writer assumes maxReceiveCount {assumed} (NICELIST_MAX_RECEIVE_COUNT) but the queue's is "
            f"{receives}: its last-delivery rule would fire at the wrong receive"
        )
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
        problems += _queue_problems(queues[names.queue], queues[names.dlq], writer)
        if writer is not None:
            shared_by = _shared_by(ssm, names, writer)
            problems += _mapping_problems(
                lambda_client, names.writer_function, queues[names.queue]["QueueArn"], shared_by
            )
    problems += _alarm_problems(cloudwatch, names)
    return problems
