"""Table writes: conditional state puts and batched track points, each request turned into an outcome.

Every attempt first takes its write units from the ``Pacer``; throttling (an error, or
``UnprocessedItems``) is reported to it (it cuts the rate) and retried, with new units, after its
full-jitter backoff while the deadline allows. What cannot be written in time is reported
as not written, never dropped: its messages go back to SQS.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.updates import LocationUpdate
from writer.coalesce import PlannedWrite
from writer.items import NEWER_THAN_STORED, Item, state_item, track_item, write_units
from writer.pacing import Pacer

BATCH_WRITE_LIMIT = 25
THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
# DynamoDB refused the item itself: retrying cannot help, the update goes to the DLQ with the code.
INPUT_ERROR_CODES = frozenset({"ValidationException", "SerializationException"})
# The table cannot be written at all (missing, no permission): a deployment problem, not the input's.
# The messages fail whole, the writer-errors alarm fires, and SQS redrive keeps them safe in the DLQ.
CONFIG_ERROR_CODES = frozenset({"ResourceNotFoundException", "AccessDeniedException"})
# A ValidationException about the keys means the table's key schema is not the contract's: every item
# would be refused alike, so it is the table's fault, not the update's (our items always carry both keys
# as strings). "Missing the key pk in the item", "Type mismatch for key sk", "The provided key element
# does not match the schema".
_KEY_SCHEMA_PROBLEM = re.compile(r"\bkey\b|\bschema\b", re.IGNORECASE)


class Outcome(Enum):
    WRITTEN = "written"
    STALE = "stale"  # the table already holds a newer (or the same) observation
    NOT_WRITTEN = "not_written"  # throttled or out of budget before the deadline: a delay, the messages come back
    FAILED = "failed"  # the last attempt failed with a server or connection error: may not get better
    REJECTED = "rejected"  # DynamoDB refused this item (INPUT_ERROR_CODES): dead-letter the update


class TableUnavailable(Exception):
    """The table cannot be written at all (CONFIG_ERROR_CODES)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


class _ItemsRejected(Exception):
    """A BatchWriteItem refused as a whole for an input error: find the item by writing one at a time."""


@dataclass(slots=True)
class WriteStats:
    """What the writes cost, for metrics and the benchmark. Thread-safe through ``add``."""

    requests: int = 0
    units: float = 0.0
    throttle_retries: int = 0
    budget_wait_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {
                "requests": self.requests,
                "units": self.units,
                "throttle_retries": self.throttle_retries,
                "budget_wait_s": self.budget_wait_s,
            }


class TableWriter:
    """Writes one batch's plan to ``table`` before ``deadline`` (a value of ``pacer.clock``)."""

    def __init__(
        self,
        client: Any,
        table: str,
        pacer: Pacer,
        *,
        deadline: float,
        written_at: str,
        retention_days: int,
        max_attempts: int = 8,
    ) -> None:
        self._client = client
        self._table = table
        self._pacer = pacer
        self._max_attempts = max_attempts
        self._deadline = deadline
        self._written_at = written_at
        self._retention_days = retention_days
        self.stats = WriteStats()

    def write_state(self, planned: PlannedWrite) -> Outcome:
        """One conditional put: only if the stored revision is older (or there is none)."""
        item = state_item(planned.update, self._written_at)
        request = {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": NEWER_THAN_STORED,
            "ExpressionAttributeNames": {"#rev": "rev"},
            "ExpressionAttributeValues": {":rev": item["rev"]},
            "ReturnConsumedCapacity": "TOTAL",
        }
        for attempt in range(self._max_attempts):
            if not self._take(write_units(item)):
                return Outcome.NOT_WRITTEN
            throttled = False
            try:
                self._client.put_item(**request)
                return Outcome.WRITTEN
            except ClientError as error:
                code = _error_code(error)
                if code == "ConditionalCheckFailedException":
                    return Outcome.STALE
                if code in INPUT_ERROR_CODES:
                    return Outcome.REJECTED
                throttled = code in THROTTLE_CODES
                if throttled:
                    self._refused(write_units(item))
            except BotoCoreError:
                pass  # connection trouble: retried like a 5xx
            if attempt == self._max_attempts - 1 or not self._back_off(attempt, throttled):
                return Outcome.NOT_WRITTEN if throttled else Outcome.FAILED
        return Outcome.NOT_WRITTEN

    def write_tracks(self, chunk: Sequence[PlannedWrite]) -> list[Outcome]:
        """One BatchWriteItem of ≤ 25 distinct track points (two when the budget's second ends inside
        them: ``Pacer.take_prefix``); unprocessed items are retried alone."""
        if len(chunk) > BATCH_WRITE_LIMIT:
            raise ValueError(f"a BatchWriteItem takes at most {BATCH_WRITE_LIMIT} items")
        items = {}
        for index, planned in enumerate(chunk):
            assert isinstance(planned.update, LocationUpdate)
            items[index] = track_item(planned.update, self._written_at, self._retention_days)
        outcomes = [Outcome.NOT_WRITTEN] * len(chunk)
        pending = dict(items)
        attempt = 0
        while pending:
            part = self._take_part(pending)
            if part is None:
                return outcomes
            try:
                unprocessed, throttled = self._batch_put(part)
                self._refused(sum(write_units(item) for item in unprocessed.values()))
            except _ItemsRejected:
                self._isolate(chunk, part, outcomes)
                pending = {index: item for index, item in pending.items() if index not in part}
                continue
            for index in part.keys() - unprocessed.keys():
                outcomes[index] = Outcome.WRITTEN
                del pending[index]
            if not unprocessed:
                continue  # the budget's second ended inside the batch: the rest goes in the next request
            if attempt == self._max_attempts - 1 or not self._back_off(attempt, throttled):
                for index in unprocessed if not throttled else ():
                    outcomes[index] = Outcome.FAILED
                return outcomes
            attempt += 1
        return outcomes

    def _isolate(
        self, chunk: Sequence[PlannedWrite], pending: dict[int, Item], outcomes: list[Outcome]
    ) -> list[Outcome]:
        """One bad item fails a whole BatchWriteItem: write the pending ones alone so only it is rejected."""
        for index in pending:
            outcomes[index] = Outcome.REJECTED if len(pending) == 1 else self.write_tracks([chunk[index]])[0]
        return outcomes

    def _batch_put(self, pending: dict[int, Item]) -> tuple[dict[int, Item], bool]:
        """Send ``pending``; return the subset DynamoDB did not process (all of it on an error), and
        whether that was throttling (``UnprocessedItems`` or a throttle code) rather than a failure."""
        by_key = {(i["child_id"]["S"], i["sk"]["S"]): index for index, i in pending.items()}
        try:
            response = self._client.batch_write_item(
                RequestItems={self._table: [{"PutRequest": {"Item": item}} for item in pending.values()]},
                ReturnConsumedCapacity="TOTAL",
            )
        except ClientError as error:
            code = _error_code(error)
            if code in INPUT_ERROR_CODES:
                raise _ItemsRejected(code) from error
            return pending, code in THROTTLE_CODES
        except BotoCoreError:
            return pending, False
        left = response.get("UnprocessedItems", {}).get(self._table, [])
        unprocessed = {}
        for request in left:
            item = request["PutRequest"]["Item"]
            index = by_key[(item["child_id"]["S"], item["sk"]["S"])]
            unprocessed[index] = pending[index]
        return unprocessed, True

    def _refused(self, units: int) -> None:
        """The table refused ``units``: ``stats.units`` counts what it took. Not refunded to the pacer: the
        table refuses when its second is full, so the units of that second are spent either way."""
        if units:
            self.stats.add(units=-units)

    def _take_part(self, pending: dict[int, Item]) -> dict[int, Item] | None:
        """The first items of ``pending`` the budget lets go in one request (all of them unless the
        budget's second ends inside them); None past the deadline."""
        sizes = [write_units(item) for item in pending.values()]
        taken = self._pacer.take_prefix(sizes, self._deadline)
        if taken is None:
            return None
        count, waited = taken
        self.stats.add(requests=1, units=sum(sizes[:count]), budget_wait_s=waited)
        return dict(itertools.islice(pending.items(), count))

    def _take(self, units: int) -> bool:
        """Spend ``units`` of budget; False past the deadline."""
        waited = self._pacer.take(units, self._deadline)
        if waited is None:
            return False
        self.stats.add(requests=1, units=units, budget_wait_s=waited)
        return True

    def _back_off(self, attempt: int, throttled: bool) -> bool:
        """Wait before the next attempt; False if it would pass the deadline.

        A throttle also cuts the rate (AIMD); a 5xx or a connection error only waits.
        """
        if throttled:
            self._pacer.on_throttle()
            self.stats.add(throttle_retries=1)
        return self._pacer.back_off(attempt, self._deadline)


def _error_code(error: ClientError) -> str:
    """DynamoDB's error code; raises ``TableUnavailable`` when the table itself is the problem."""
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    if code in CONFIG_ERROR_CODES:
        raise TableUnavailable(code) from error
    if code in INPUT_ERROR_CODES and _KEY_SCHEMA_PROBLEM.search(str(details.get("Message", ""))):
        raise TableUnavailable(f"{code}: the table's key schema is not child_id (S) + sk (S)") from error
    return code


def chunks(writes: Sequence[PlannedWrite], size: int = BATCH_WRITE_LIMIT) -> list[Sequence[PlannedWrite]]:
    return [writes[i : i + size] for i in range(0, len(writes), size)]
