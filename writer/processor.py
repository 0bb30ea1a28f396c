"""The batch processor: the whole SQS batch at once, because coalescing needs all of it.

Powertools' ``BatchProcessor`` handles one record at a time; this subclass keeps its response
building (``_clean`` → ``batchItemFailures``) and replaces the per-record loop with
parse → dead-letter the invalid → coalesce → write → mark each message by its writes' outcomes.
A message is reported done only when every update it carried is durably in the table (or
superseded there), or in the DLQ.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from writer.budget import WriteBudget
from writer.coalesce import PlannedWrite, Tagged, WritePlan, plan
from writer.contract import InvalidBody, format_timestamp, parse_body
from writer.dlq import DeadLetterError, DeadLetters
from writer.observability import logger
from writer.ratelimit import Clock
from writer.settings import WriterSettings
from writer.table import Outcome, Pacing, TableWriter, chunks


class IncompleteMessage(Exception):
    """Some update of this message is not yet durably written: SQS must deliver it again."""


class InvalidResponse(Exception):
    """The partial-failure response would not match the batch: fail the whole batch instead."""


@dataclass(frozen=True, slots=True)
class WriterDeps:
    """Everything the writer talks to, built once per execution environment."""

    settings: WriterSettings
    dynamodb: Any
    dead_letters: DeadLetters
    budget: WriteBudget
    pacing: Pacing
    executor: ThreadPoolExecutor
    wall_clock: Clock = time.time


@dataclass(slots=True)
class BatchReport:
    """What one invocation did; becomes the metrics and the summary log line."""

    messages: int = 0
    updates: int = 0
    invalid_messages: int = 0
    rejected_updates: int = 0
    written: int = 0
    stale: int = 0
    not_written: int = 0
    writes_saved: int = 0
    failed_messages: int = 0
    permanent_errors: int = 0
    budget_share: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)


class CoalescingBatchProcessor(BatchProcessor):
    """Process a whole SQS batch; report exactly the messages that are not finished."""

    def __init__(self, deps: WriterDeps) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self.deps = deps
        self.report = BatchReport()

    def run(self, records: list[dict[str, Any]], context: Any) -> PartialItemFailureResponse:
        """Process ``records`` and return the checked ``batchItemFailures`` response."""
        with self(records=records, handler=_whole_batch, lambda_context=context):
            failed = self.process_batch()
        return self._checked_response(failed)

    def process(self) -> list[tuple[Any, ...]]:
        self.process_batch()
        return []

    def _process_record(self, record: dict[str, Any]) -> Any:
        raise NotImplementedError("this processor works on whole batches")

    async def _async_process_record(self, record: dict[str, Any]) -> Any:
        raise NotImplementedError("this processor works on whole batches")

    def process_batch(self) -> set[str]:
        records = [SQSRecord(raw) for raw in self.records]
        self.report.messages = len(records)
        tagged, failed = self._parse_all(records)
        work = plan(tagged)
        self.report.updates = work.received
        self.report.writes_saved = work.writes_saved
        failed |= self._write(work, {r.message_id: i for i, r in enumerate(records)})
        for record in records:
            if record.message_id in failed:
                error = IncompleteMessage(record.message_id)
                self.failure_handler(record, (IncompleteMessage, error, None))
            else:
                self.success_handler(record, None)
        self.report.failed_messages = len(failed)
        return failed

    def _parse_all(self, records: Sequence[SQSRecord]) -> tuple[list[Tagged], set[str]]:
        """Valid updates tagged with their message; invalid input to the DLQ (failed if it won't go)."""
        tagged: list[Tagged] = []
        failed: set[str] = set()
        letters = self.deps.dead_letters
        for record in records:
            message_id = record.message_id
            try:
                parsed = parse_body(record.body)
            except InvalidBody as error:
                self.report.invalid_messages += 1
                logger.warning("invalid message dead-lettered", message_id=message_id, reason=str(error))
                if not _dead_letter(message_id, functools.partial(letters.send_body, record.body, str(error))):
                    failed.add(message_id)
                continue
            if parsed.rejected:
                self.report.rejected_updates += len(parsed.rejected)
                logger.warning(
                    "invalid updates dead-lettered",
                    message_id=message_id,
                    rejected=len(parsed.rejected),
                    reasons=[r.reason for r in parsed.rejected[:5]],
                )
                if not _dead_letter(message_id, functools.partial(letters.send_rejected, parsed.rejected)):
                    failed.add(message_id)
            tagged.extend(Tagged(update, message_id) for update in parsed.updates)
        return tagged, failed

    def _write(self, work: WritePlan, order: dict[str, int]) -> set[str]:
        """Run the plan through the pool, earliest messages first; return the unfinished messages."""
        deps = self.deps
        share = deps.budget.share()
        self.report.budget_share = share
        pacing = dataclasses.replace(deps.pacing, share=share)
        remaining = self.lambda_context.get_remaining_time_in_millis() / 1000
        deadline = pacing.clock() + remaining - deps.settings.deadline_margin_ms / 1000
        self._warn_if_too_big(work, share, remaining)
        writer = TableWriter(
            deps.dynamodb,
            deps.settings.table,
            pacing,
            deadline=deadline,
            written_at=format_timestamp(datetime.fromtimestamp(deps.wall_clock(), UTC)),
            retention_days=deps.settings.track_retention_days,
        )

        def first(write: PlannedWrite) -> int:
            return min(order[m] for m in write.message_ids)

        state = sorted(work.state, key=first)
        track_chunks = chunks(sorted(work.track, key=first))
        pending_state = [deps.executor.submit(self._guarded_state, writer, w) for w in state]
        pending_tracks = [deps.executor.submit(self._guarded_tracks, writer, c) for c in track_chunks]
        unfinished: set[str] = set()
        for write, outcome in zip(state, pending_state, strict=True):
            self._count(write, outcome.result(), unfinished)
        for chunk, outcomes in zip(track_chunks, pending_tracks, strict=True):
            for write, result in zip(chunk, outcomes.result(), strict=True):
                self._count(write, result, unfinished)
        self.report.stats = writer.stats.snapshot()
        return unfinished

    def _count(self, write: PlannedWrite, outcome: Outcome, unfinished: set[str]) -> None:
        if outcome is Outcome.WRITTEN:
            self.report.written += 1
        elif outcome is Outcome.STALE:
            self.report.stale += 1
        else:
            self.report.not_written += 1
            unfinished |= write.message_ids

    def _guarded_state(self, writer: TableWriter, write: PlannedWrite) -> Outcome:
        try:
            return writer.write_state(write)
        except ClientError as error:
            return self._permanent(error, write.message_ids)

    def _guarded_tracks(self, writer: TableWriter, chunk: Sequence[PlannedWrite]) -> list[Outcome]:
        try:
            return writer.write_tracks(chunk)
        except ClientError as error:
            ids = set().union(*(w.message_ids for w in chunk))
            return [self._permanent(error, ids)] * len(chunk)

    def _permanent(self, error: ClientError, message_ids: set[str]) -> Outcome:
        """A write DynamoDB will never accept: its messages fail, and SQS redrive takes them to the DLQ."""
        self.report.permanent_errors += 1
        code = error.response.get("Error", {}).get("Code", "")
        logger.error("write rejected by DynamoDB", error_code=code, message_ids=sorted(message_ids))
        return Outcome.NOT_WRITTEN

    def _warn_if_too_big(self, work: WritePlan, share: float, remaining: float) -> None:
        """Tell the operator when a batch cannot fit its deadline at the current budget."""
        units = work.writes  # at least one write unit each
        needed = units / share if share > 0 else float("inf")
        if needed > remaining:
            logger.warning(
                "batch needs more budget than the deadline allows; lower the batch size or raise the rate",
                units=units,
                needed_s=round(needed, 1),
                remaining_s=round(remaining, 1),
                share_wcu_s=round(share, 1),
            )

    def _checked_response(self, failed: set[str]) -> PartialItemFailureResponse:
        """Never hand Lambda a response that would delete an unfinished message."""
        response = self.response()
        reported = [entry.get("itemIdentifier") for entry in response.get("batchItemFailures", [])]
        batch_ids = {SQSRecord(raw).message_id for raw in self.records}
        if set(reported) != failed or not set(reported) <= batch_ids or len(reported) != len(failed):
            raise InvalidResponse(f"response lists {len(reported)} failures, expected {len(failed)}")
        return response


def _dead_letter(message_id: str, send: Callable[[str], None]) -> bool:
    """Send to the DLQ; False (the message stays in the queue) if the DLQ did not take it."""
    try:
        send(message_id)
    except DeadLetterError as error:
        logger.error("DLQ refused a message; it stays in the queue", message_id=message_id, error=str(error))
        return False
    return True


def _whole_batch(record: Any) -> None:
    """Powertools wants a record handler; this processor never calls one."""
    raise NotImplementedError
