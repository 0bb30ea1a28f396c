"""The batch processor: the whole SQS batch at once, because coalescing needs all of it.

Powertools' ``BatchProcessor`` calls a handler once per record; coalescing needs every record of
the batch before the first write, so this processor does not pretend to be one. It runs
parse → dead-letter the invalid → coalesce → write → mark each message by its writes' outcomes,
and builds the ``batchItemFailures`` response (Powertools' ``PartialItemFailureResponse`` shape)
from its own set of unfinished messages, checked against the batch before it is returned.
A message is reported done only when every update it carried is durably in the table (or
superseded there), or in the DLQ, or deferred. A message handed back comes back on a backoff
(``writer.returns``). Every call to SQS after the writes is made only while the invocation has time
for it (``settings.sqs_call_reserve_ms``), so the invocation never outlives its Lambda timeout.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from contract.envelope import encode_envelope
from contract.updates import Rejected, encode_update, format_timestamp
from writer.coalesce import PlannedWrite, Tagged, WritePlan, plan
from writer.defer import MAX_STALLED, Deferrals, Delivery, Remainder, Step, next_step, split
from writer.dlq import GAVE_UP, TABLE_REFUSED, DeadLetterError, DeadLetters
from writer.intake import Unreadable, delivery, read_body
from writer.observability import logger
from writer.pacing import Pacer
from writer.ratelimit import Clock
from writer.returns import Return, Returns, return_delay
from writer.settings import WriterSettings, deadline_margin_seconds
from writer.table import Outcome, TableUnavailable, TableWriter, chunks


class InvalidResponse(Exception):
    """The partial-failure response would not match the batch: fail the whole batch instead."""


@dataclass(frozen=True, slots=True)
class WriterDeps:
    """Everything the writer talks to, built once per execution environment."""

    settings: WriterSettings
    dynamodb: Any
    dead_letters: DeadLetters
    deferrals: Deferrals
    returns: Returns
    pacer: Pacer
    executor: ThreadPoolExecutor
    wall_clock: Clock = time.time
    rng: random.Random = field(default_factory=random.Random)


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
    returned_updates: int = 0  # valid updates of the messages handed back to SQS
    permanent_errors: int = 0
    rejected_writes: int = 0
    deferred_messages: int = 0
    deferred_updates: int = 0
    given_up_updates: int = 0
    out_of_time: int = 0  # SQS calls skipped because the invocation had no time left for them
    budget_share: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)


class CoalescingBatchProcessor:
    """Process a whole SQS batch; report exactly the messages that are not finished."""

    def __init__(self, deps: WriterDeps) -> None:
        self.deps = deps
        self.report = BatchReport()
        self.records: list[SQSRecord] = []
        self.failed: set[str] = set()  # messages SQS must deliver again
        self._blocked: set[str] = set()  # messages whose writes hit an unavailable table: no deferral
        self._winners: dict[tuple[str, str], str] = {}  # key -> revision of the update written under it
        self._context: Any = None
        self._receipts: dict[str, tuple[str, int]] = {}  # message id -> (receipt handle, receive count)

    def run(self, records: list[dict[str, Any]], context: Any) -> PartialItemFailureResponse:
        """Process ``records`` and return the checked ``batchItemFailures`` response."""
        self.records = [SQSRecord(raw) for raw in records]
        self._context = context
        self.failed = self.process_batch()
        return self._checked(self.response())

    def process_batch(self) -> set[str]:
        records = self.records
        self.report.messages = len(records)
        deliveries, failed = self._parse_all(records)
        work = plan(Tagged(update, d.message_id) for d in deliveries for update in d.updates)
        self.report.updates = work.received
        self.report.writes_saved = work.writes_saved
        outcomes = self._write(work, {r.message_id: i for i, r in enumerate(records)})
        remainders: list[Remainder] = []
        for message in deliveries:
            settled = self._settle(message, outcomes)
            if isinstance(settled, Remainder):
                remainders.append(settled)
            elif not settled:
                failed.add(message.message_id)
        failed |= self._defer(remainders)
        self.report.failed_messages = len(failed)
        self.report.returned_updates = sum(len(d.updates) for d in deliveries if d.message_id in failed)
        self._back_off(failed)
        return failed

    def response(self) -> PartialItemFailureResponse:
        """The unfinished messages in batch order, each once (SQS may put one message in a batch twice)."""
        ids = dict.fromkeys(r.message_id for r in self.records if r.message_id in self.failed)
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in ids]}

    def _parse_all(self, records: Sequence[SQSRecord]) -> tuple[list[Delivery], set[str]]:
        """Valid updates per message; invalid input to the DLQ (the message fails if the DLQ won't take it)."""
        deliveries: list[Delivery] = []
        failed: set[str] = set()
        letters = self.deps.dead_letters
        for record in records:
            message_id = record.message_id
            arrived = delivery(record, [])
            self._receipts[message_id] = (record.receipt_handle, arrived.receive_count)
            parsed = read_body(record.body, **self._limits())
            if isinstance(parsed, Unreadable):
                self.report.invalid_messages += 1
                logger.warning("invalid message dead-lettered", message_id=message_id, reason=parsed.reason)
                if not self._dead_letter(
                    message_id, functools.partial(letters.send_body, record.body, parsed.reason, kind=parsed.kind)
                ):
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
                send = functools.partial(letters.send_rejected, parsed.rejected, original_body=record.body)
                if not self._dead_letter(message_id, send):
                    failed.add(message_id)
            deliveries.append(delivery(record, parsed.updates))
        return deliveries, failed

    def _write(self, work: WritePlan, order: dict[str, int]) -> dict[tuple[str, str], Outcome]:
        """Run the plan through the pool, earliest messages first; the outcome of every key."""
        deps = self.deps
        share = deps.pacer.refresh()
        self.report.budget_share = share
        remaining = self._context.get_remaining_time_in_millis() / 1000
        deadline = deps.pacer.clock() + remaining - deadline_margin_seconds(remaining, deps.settings.deadline_margin_ms)
        self._warn_if_too_big(work, share, remaining)
        writer = TableWriter(
            deps.dynamodb,
            deps.settings.table,
            deps.pacer,
            deadline=deadline,
            written_at=format_timestamp(datetime.fromtimestamp(deps.wall_clock(), UTC)),
            retention_days=deps.settings.track_retention_days,
            max_attempts=deps.settings.max_attempts,
        )

        def first(write: PlannedWrite) -> int:
            return min(order[m] for m in write.message_ids)

        # One queue of jobs in message order, a message's state writes beside its track points: when the
        # deadline cuts the batch, early messages are whole and late ones untouched, so little is deferred
        # half-done (a deferred update whose state was written costs a stale rewrite on its next delivery).
        jobs: list[tuple[int, Sequence[PlannedWrite], Callable[[], list[Outcome]]]] = [
            (first(w), [w], functools.partial(self._guarded_state, writer, w)) for w in work.state
        ]
        for chunk in chunks(sorted(work.track, key=first)):
            jobs.append((first(chunk[0]), chunk, functools.partial(self._guarded_tracks, writer, chunk)))
        jobs.sort(key=lambda job: job[0])
        pending = [(writes, deps.executor.submit(run)) for _, writes, run in jobs]
        outcomes: dict[tuple[str, str], Outcome] = {}
        for writes, future in pending:
            for write, result in zip(writes, future.result(), strict=True):
                outcomes[write.key] = self._count(result)
                self._winners[write.key] = write.update.revision
        self.report.stats = writer.stats.snapshot()
        return outcomes

    def _count(self, outcome: Outcome) -> Outcome:
        if outcome is Outcome.WRITTEN:
            self.report.written += 1
        elif outcome is Outcome.STALE:
            self.report.stale += 1
        elif outcome is Outcome.REJECTED:
            self.report.rejected_writes += 1
        elif outcome is Outcome.FAILED:
            self.report.permanent_errors += 1
            self.report.not_written += 1
        else:
            self.report.not_written += 1
        return outcome

    def _settle(self, message: Delivery, outcomes: dict[tuple[str, str], Outcome]) -> bool | Remainder:
        """True when every update of the message is in the table or the DLQ; its ``Remainder`` when the
        rest is to be deferred; False when the message is to be returned."""
        deps = self.deps
        message_id = message.message_id
        found = split(message, outcomes, self._winners)
        if found.rejected:
            reason = "DynamoDB rejected the write (ValidationException)"
            if not self._dead_letter_updates(message, found.rejected, reason, TABLE_REFUSED):
                return False
        if message_id in self._blocked:
            return not found.left
        step = next_step(message, found.left, found.failing, deps.settings.max_receive_count)
        if step is Step.DONE:
            return True
        if step is Step.RETURN:
            return False
        if step is Step.GIVE_UP:
            reason = (
                f"writes failed with server or connection errors on {MAX_STALLED} rounds of "
                f"{deps.settings.max_receive_count} deliveries; the update itself is valid (redrive it)"
            )
            given_up = self._dead_letter_updates(message, found.left, reason, GAVE_UP)
            self.report.given_up_updates += len(found.left) if given_up else 0
            return given_up
        return Remainder(message, found.left, found.failing)

    def _defer(self, remainders: list[Remainder]) -> set[str]:
        """Send the remainders (batched); the ids of the messages that must be returned instead. Every call
        after the first keeps the time of one more behind it, for the backoff of what is returned."""
        if not remainders:
            return set()
        unique = list({r.delivery.message_id: r for r in remainders}.values())  # SQS may deliver one twice

        def has_time(call: int) -> bool:
            # the first call needs its own reserve; each later one keeps one more, for the backoff's call
            return self._has_time(calls=1 if call == 0 else 2)

        sent = self.deps.deferrals.send(unique, has_time=has_time)
        for remainder in unique:
            message = remainder.delivery
            why = sent.refused.get(message.message_id)
            if why is not None:
                logger.error(
                    "remainder not deferred; the message stays in the queue", message_id=message.message_id, error=why
                )
                continue
            self.report.deferred_messages += 1
            self.report.deferred_updates += len(remainder.left)
            logger.info(
                "remainder deferred",
                message_id=message.message_id,
                updates=len(remainder.left),
                of=len(message.updates),
            )
        return set(sent.refused)

    def _dead_letter_updates(self, message: Delivery, updates: list[Any], reason: str, kind: str) -> bool:
        unwritable = [Rejected(i, encode_update(u), reason) for i, u in enumerate(updates)]
        body = encode_envelope(encode_update(u) for u in message.updates)
        send = functools.partial(self.deps.dead_letters.send_rejected, unwritable, original_body=body, kind=kind)
        if not self._dead_letter(message.message_id, send):
            return False
        self.report.rejected_updates += len(updates)
        return True

    def _back_off(self, failed: set[str]) -> None:
        """Returned messages come back on a backoff growing with their receive count; messages the table
        cannot take at all (``_blocked``) wait the longest, so an operator has time to fix the table."""
        settings = self.deps.settings
        returns = []
        for message_id in sorted(failed):
            handle, receive_count = self._receipts[message_id]
            cap = settings.return_backoff_cap_seconds
            seconds = (
                int(cap)
                if message_id in self._blocked
                else return_delay(receive_count, self.deps.rng, settings.return_backoff_base_seconds, cap)
            )
            returns.append(Return(message_id, handle, seconds))
        if returns:
            self.deps.returns.back_off(returns, has_time=self._has_time)

    def _limits(self) -> dict[str, Any]:
        """The contract's optional bounds this deployment sets (none by default)."""
        bound = self.deps.settings.max_future_seconds
        if bound is None:
            return {}
        return {"max_future_seconds": bound, "now": datetime.fromtimestamp(self.deps.wall_clock(), UTC)}

    def _has_time(self, calls: int = 1) -> bool:
        """Whether ``calls`` more SQS calls fit before the Lambda timeout (their timeouts are bounded to fit)."""
        if self._context.get_remaining_time_in_millis() > calls * self.deps.settings.sqs_call_reserve_ms:
            return True
        self.report.out_of_time += 1
        return False

    def _dead_letter(self, message_id: str, send: Callable[[str], None]) -> bool:
        """Send to the DLQ; False (the message stays in the queue) if the DLQ did not take it or no time is left."""
        if not self._has_time():
            return False
        try:
            send(message_id)
        except DeadLetterError as error:
            logger.error("DLQ refused a message; it stays in the queue", message_id=message_id, error=str(error))
            return False
        return True

    def _guarded_state(self, writer: TableWriter, write: PlannedWrite) -> list[Outcome]:
        try:
            return [writer.write_state(write)]
        except TableUnavailable as error:
            return [self._unavailable(error, write.message_ids)]

    def _guarded_tracks(self, writer: TableWriter, chunk: Sequence[PlannedWrite]) -> list[Outcome]:
        try:
            return writer.write_tracks(chunk)
        except TableUnavailable as error:
            ids = set().union(*(w.message_ids for w in chunk))
            return [self._unavailable(error, ids)] * len(chunk)

    def _unavailable(self, error: TableUnavailable, message_ids: set[str]) -> Outcome:
        """The table cannot be written: the messages fail whole (no deferral), SQS redrive keeps them."""
        self.report.permanent_errors += 1
        self._blocked |= message_ids
        logger.error("table unavailable", error_code=error.code, message_ids=sorted(message_ids))
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

    def _checked(self, response: PartialItemFailureResponse) -> PartialItemFailureResponse:
        """Never hand Lambda a response that would delete an unfinished message, or name one not in
        the batch (Lambda would fail the whole batch): raise instead."""
        reported = [entry.get("itemIdentifier") for entry in response.get("batchItemFailures", [])]
        batch_ids = {record.message_id for record in self.records}
        unique = set(reported)
        if len(unique) != len(reported) or unique != self.failed or not unique <= batch_ids:
            raise InvalidResponse(f"response lists {len(reported)} failures, expected {len(self.failed)}")
        return response
