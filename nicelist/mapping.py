"""The writer's SQS event source mapping, configured the way docs/design.md ("Known traps") demands after zappa.

zappa (when it creates a trigger at all) sets neither ``ReportBatchItemFailures`` (without it
Lambda deletes the whole batch and returned failures are silently lost) nor
``ScalingConfig.MaximumConcurrency`` (without it the poller outruns reserved concurrency and
throttled messages climb towards the DLQ). This module sets both, and creates the mapping
when zappa did not (our zappa_settings.json has no ``events``: the mapping is ours)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from contract.names import StageNames, queue_url
from nicelist.console import error_code

MIN_MAXIMUM_CONCURRENCY = 2  # AWS rejects ScalingConfig.MaximumConcurrency below 2


class DeployError(RuntimeError):
    """The deployed stage cannot be configured as asked; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class MappingSettings:
    # 10 messages and no window: a window needs the queue's visibility to exceed 6 x the writer's timeout
    # by it (AWS's rule, checked by the doctor), and provisioning sets exactly 6 x. Each message may
    # be an envelope of up to 1,000 updates, so a batch still coalesces.
    batch_size: int = 10
    batching_window: int = 0  # seconds; AWS requires >= 1 when batch_size > 10
    max_concurrency: int | None = None  # None: NICELIST_CONCURRENCY of the function, else reserved


def queue_arn(sqs: Any, name: str) -> str:
    url = queue_url(sqs, name)
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def reserved_concurrency(lambda_client: Any, function: str) -> int | None:
    response = lambda_client.get_function_concurrency(FunctionName=function)
    value = response.get("ReservedConcurrentExecutions")
    return None if value is None else int(value)


def find_mappings(lambda_client: Any, function: str, source_arn: str) -> list[dict[str, Any]]:
    pages = lambda_client.get_paginator("list_event_source_mappings").paginate(
        FunctionName=function, EventSourceArn=source_arn
    )
    return [m for page in pages for m in page["EventSourceMappings"] if m["EventSourceArn"] == source_arn]


def _maximum_concurrency(lambda_client: Any, function: str, requested: int | None) -> int:
    try:
        configuration = lambda_client.get_function_configuration(FunctionName=function)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise DeployError(f"{function} does not exist: run `zappa deploy` first") from error
        raise
    reserved = reserved_concurrency(lambda_client, function)
    if reserved is None:
        raise DeployError(f"{function} has no reserved concurrency: set lambda_concurrency and `zappa update`")
    variables = configuration.get("Environment", {}).get("Variables", {})
    budget_share = variables.get("NICELIST_CONCURRENCY")
    chosen = requested or int(budget_share or reserved)
    if not MIN_MAXIMUM_CONCURRENCY <= chosen <= reserved:
        raise DeployError(f"maximum concurrency {chosen} must be 2..{reserved} (the reserved concurrency)")
    return chosen


def configure_mapping(
    lambda_client: Any, sqs: Any, ssm: Any, stage: str, settings: MappingSettings | None = None
) -> dict[str, Any]:
    """Create or update the writer's mapping and tell the writers how many of them share the budget
    (the ``writer-concurrency`` parameter they read beside the write rate); return what was done."""
    settings = settings or MappingSettings()
    names = StageNames(stage)
    function = names.writer_function
    concurrency = _maximum_concurrency(lambda_client, function, settings.max_concurrency)
    arguments: dict[str, Any] = {
        "BatchSize": settings.batch_size,
        "MaximumBatchingWindowInSeconds": settings.batching_window,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": concurrency},
        "Enabled": True,
    }
    ssm.put_parameter(Name=names.writer_concurrency_parameter, Value=str(concurrency), Type="String", Overwrite=True)
    source = queue_arn(sqs, names.queue)
    existing = find_mappings(lambda_client, function, source)
    if not existing:
        mapping = lambda_client.create_event_source_mapping(FunctionName=function, EventSourceArn=source, **arguments)
        return {"action": "created", "uuid": mapping["UUID"], "maximum_concurrency": concurrency}
    for mapping in existing:
        lambda_client.update_event_source_mapping(UUID=mapping["UUID"], **arguments)
    return {"action": "updated", "uuid": existing[0]["UUID"], "maximum_concurrency": concurrency}
