"""The writer Lambda's entry point: ``writer.handler.lambda_handler(event, context)``.

Thin on purpose: build the collaborators once per execution environment, hand the batch to
the processor, publish what it did. The response is ``{"batchItemFailures": [...]}`` and the
function is deployed with ``ReportBatchItemFailures`` (``nicelist deploy check`` proves it).
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from botocore.config import Config

from contract.names import LazyQueueUrl, StageNames
from writer.budget import BudgetParameters, TableCapacity
from writer.defer import Deferrals
from writer.dlq import DeadLetters
from writer.observability import MetricUnit, logger, metrics
from writer.pacing import Pacer
from writer.processor import BatchReport, CoalescingBatchProcessor, WriterDeps
from writer.returns import Returns
from writer.settings import WriterSettings
from writer.share import LeaseBoard, LiveShare, ShareRule

_deps: WriterDeps | None = None
# Throttles must reach our limiter rather than vanish into botocore's own retries, and no request may
# outlive the invocation (botocore's default read timeout is 60 s, the writer's whole Lambda timeout):
# a DynamoDB request started just before the deadline margin ends within it; an SQS (or SSM) call is
# made only with settings.sqs_call_reserve_ms left, more than its connect + read timeouts.
DYNAMODB_TIMEOUTS = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=2)
SQS_TIMEOUTS = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=2)


def build_deps(settings: WriterSettings | None = None, session: Any = None) -> WriterDeps:
    """Clients, budget and pacing for one execution environment (boto3's chain picks the endpoint)."""
    settings = settings or WriterSettings()
    session = session or boto3.session.Session()
    dynamodb = session.client("dynamodb", config=DYNAMODB_TIMEOUTS)
    sqs = session.client("sqs", config=SQS_TIMEOUTS)
    names = StageNames(settings.stage)
    queue = LazyQueueUrl(sqs, settings.queue_url, names.queue)
    budget = BudgetParameters(
        session.client("ssm", config=SQS_TIMEOUTS),
        rate_parameter=settings.write_rate_parameter,
        rate_fallback=settings.write_rate,
        concurrency_parameter=settings.concurrency_parameter,
        concurrency_fallback=settings.concurrency,
        max_age=settings.write_rate_cache_seconds,
        # write rate `auto`: W follows the table's capacity (DescribeTable, cached as long as W)
        table=TableCapacity(dynamodb, settings.table, settings.write_rate_cache_seconds),
    )
    live = None
    if settings.share_mode == "live":  # W shared by the executions running now (writer/share.py)
        rule = ShareRule(read_seconds=settings.share_read_seconds)
        live = LiveShare(LeaseBoard(dynamodb, settings.table), time.time, rule)
    pacer = Pacer(
        budget,
        clock=time.time,  # epoch seconds: the pacer's seconds are the ones the table counts
        sleep=time.sleep,
        rng=random.Random(),
        burst_seconds=settings.write_burst_seconds,
        live=live,
    )
    return WriterDeps(
        settings=settings,
        dynamodb=dynamodb,
        dead_letters=DeadLetters(sqs, settings.dlq_url, names.dlq),
        deferrals=Deferrals(sqs, queue),
        returns=Returns(sqs, queue),
        pacer=pacer,
        executor=ThreadPoolExecutor(max_workers=settings.write_threads, thread_name_prefix="write"),
    )


def _dependencies() -> WriterDeps:
    global _deps  # noqa: PLW0603 - one set per execution environment, reused across invocations
    if _deps is None:
        _deps = build_deps()
        metrics.set_default_dimensions(stage=_deps.settings.stage)
    return _deps


def handle(event: dict[str, Any], context: Any, deps: WriterDeps) -> PartialItemFailureResponse:
    """Process one SQS event; raise (failing the whole batch) rather than answer wrongly."""
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("not an SQS event: no Records list")
    started = time.monotonic()
    processor = CoalescingBatchProcessor(deps)
    response = processor.run(records, context)
    _publish(processor.report, time.monotonic() - started)
    return response


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return handle(event, context, _dependencies())


def _publish(report: BatchReport, seconds: float) -> None:
    counts = {
        "Messages": report.messages,
        "UpdatesReceived": report.updates,
        "UpdatesWritten": report.written,
        "UpdatesStale": report.stale,
        "WritesNotDone": report.not_written,
        "WritesCoalescedAway": report.writes_saved,
        "MessagesDeadLettered": report.invalid_messages,
        "UpdatesDeadLettered": report.rejected_updates,
        "MessagesReturned": report.failed_messages,
        "UpdatesReturned": report.returned_updates,
        "PermanentWriteErrors": report.permanent_errors,
        "UpdatesRejectedByTable": report.rejected_writes,
        "MessagesDeferred": report.deferred_messages,
        "UpdatesDeferred": report.deferred_updates,
        "UpdatesGivenUp": report.given_up_updates,
        "SqsCallsSkippedForTime": report.out_of_time,
        "ThrottleRetries": report.stats.get("throttle_retries", 0),
        "DynamoDBRequests": report.stats.get("requests", 0),
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="WriteUnits", unit=MetricUnit.Count, value=report.stats.get("units", 0))
    metrics.add_metric(name="BudgetWait", unit=MetricUnit.Seconds, value=report.stats.get("budget_wait_s", 0))
    metrics.add_metric(name="BatchDuration", unit=MetricUnit.Seconds, value=round(seconds, 3))
    logger.info(
        "batch done",
        messages=report.messages,
        updates=report.updates,
        written=report.written,
        stale=report.stale,
        not_written=report.not_written,
        coalesced_away=report.writes_saved,
        dead_lettered=report.invalid_messages + report.rejected_updates,
        returned=report.failed_messages,
        returned_updates=report.returned_updates,
        deferred=report.deferred_updates,
        share_wcu_s=round(report.budget_share, 1),
        seconds=round(seconds, 3),
        dynamodb=report.stats,
    )
