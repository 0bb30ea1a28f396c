"""Sharing ``W`` among the executions running now, not among all ``C`` that may run (issue 13).

While Lambda's pollers ramp up (a few concurrent batches at first, more each minute: docs/design.md,
"The poller ramp"), only ``k < C`` executions run; each holding back to ``W / C`` leaves
``(C - k) / C`` of the budget idle. Lambda executions share no memory, so they announce themselves
in the table: each holds a **lease**, an item under the partition ``#writers`` (a child id can never
contain ``#``, ``contract/keys.py``), and divides ``W`` by the live leases it reads, clamped to
``1..C``.

Why the total never exceeds ``W`` (``docs/design.md``, "Pacing: the live share"): with ``A(t)`` the
executions granting units at ``t``, each ``i`` in ``A(t)`` divides by ``d_i >= |A(t)|``, so the
shares sum to at most ``W``. That holds because

- an execution grants units only while its own lease is valid for ``lead + skew`` more seconds, so
  every reader still counts it;
- every reader prices units only with a reading (a strongly consistent ``Query``) younger than
  ``read_seconds``, else divides by ``C``, and reserves at most ``lead_seconds`` ahead
  (``SecondBudget``'s ``max_lead``), so units granted at ``t`` were priced from a read after
  ``t - read - lead``;
- a newcomer writes its lease, then reads: if it sees no other live lease nobody else is granting
  (they would hold one), and it starts at once with ``d = 1``; otherwise it grants nothing for
  ``join_seconds = read + lead + skew`` after its write, by which time every other reader has counted
  it. A reader that counts a lease of an execution that already stopped only divides by more;
- ``d`` is clamped to ``C``: at most ``C`` executions run (reserved concurrency), so ``d = C`` is safe
  whatever was read, which is also what a failed read falls back to while the own lease is valid;
- an execution whose lease could not be renewed in time stops granting and joins again; one whose
  join write is throttled or fails on the server side waits and tries again (no lease, no grants);
  one whose join is refused for good (no permission, no such table, another key schema) shares by
  ``C``, as every execution of the stage then does.

The cost: a lease ``PutItem`` (1 WCU) when an execution joins and every ``lease - renew_before``
seconds while it runs, taken from its own budget; one strongly consistent ``Query`` about every
``read_seconds - REFRESH_AHEAD_SECONDS`` per execution (1 RCU while the leases fit 4 KB, about 30); a ``DeleteItem``
for a lease dead for ``lease_seconds`` (the execution was reclaimed), at most one per read.
The join write itself is not in anyone's budget (the joiner has none yet): at most 1 WCU per joining
execution in its second, inside the 3 % the stage keeps between ``W`` and the table's capacity.
"""

from __future__ import annotations

import contextlib
import math
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.keys import PARTITION_KEY, SORT_KEY
from writer.observability import logger

LEASE_PARTITION = "#writers"  # never a child id: contract/updates.py allows [A-Za-z0-9_.-] only
LEASE_PREFIX = "LEASE#"
SINCE, UNTIL, EXPIRES = "lease_since", "lease_until", "expires_at"
TTL_AFTER_SECONDS = 3_600  # DynamoDB's TTL removes what no reader cleaned up
JOIN_RETRY_SECONDS = 0.2
REFRESH_AHEAD_SECONDS = 0.25  # a re-read starts this long before the last one is too old to use


@dataclass(frozen=True, slots=True)
class ShareRule:
    """The timings of the live share; ``join_seconds`` is what makes the total bound hold."""

    lease_seconds: float = 10.0
    renew_before_seconds: float = 5.0
    read_seconds: float = 1.0
    lead_seconds: float = 0.5
    skew_seconds: float = 0.25

    def __post_init__(self) -> None:
        values = (self.lease_seconds, self.renew_before_seconds, self.read_seconds, self.lead_seconds)
        if not all(math.isfinite(v) and v > 0 for v in values) or not 0 <= self.skew_seconds < 5:
            raise ValueError("share timings must be positive and finite, skew in [0, 5)")
        if not self.lead_seconds + self.skew_seconds < self.renew_before_seconds < self.lease_seconds:
            raise ValueError("need lead + skew < renew_before < lease")

    @property
    def join_seconds(self) -> float:
        return self.read_seconds + self.lead_seconds + self.skew_seconds


@dataclass(frozen=True, slots=True)
class Lease:
    owner: str
    since: float
    until: float


def divisor(live: int, concurrency: int) -> int:
    """What ``W`` is divided by: the live leases read, never below 1 nor above ``C``."""
    return max(1, min(live, concurrency))


def live_leases(leases: Sequence[Lease], now: float, skew: float) -> list[Lease]:
    """The leases a reader must count: any that may still be valid on a clock ``skew`` behind."""
    return [lease for lease in leases if lease.until > now - skew]


class LeaseBoard:
    """The lease items in the writers' table: put, read (strongly consistent), delete a dead one."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def put(self, lease: Lease) -> None:
        self._dynamodb.put_item(
            TableName=self._table,
            Item={
                PARTITION_KEY: {"S": LEASE_PARTITION},
                SORT_KEY: {"S": LEASE_PREFIX + lease.owner},
                SINCE: {"N": f"{lease.since:.3f}"},
                UNTIL: {"N": f"{lease.until:.3f}"},
                EXPIRES: {"N": str(int(lease.until) + TTL_AFTER_SECONDS)},
            },
        )

    def read(self) -> list[Lease]:
        leases: list[Lease] = []
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": PARTITION_KEY},
            "ExpressionAttributeValues": {":p": {"S": LEASE_PARTITION}},
            "ConsistentRead": True,
        }
        while True:
            page = self._dynamodb.query(**arguments)
            for item in page.get("Items", []):
                lease = _parse(item)
                if lease is not None:
                    leases.append(lease)
            if "LastEvaluatedKey" not in page:
                return leases
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete(self, lease: Lease) -> None:
        """Remove a dead lease unless its owner renewed it meanwhile."""
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": LEASE_PARTITION}, SORT_KEY: {"S": LEASE_PREFIX + lease.owner}},
                ConditionExpression="#u = :u",
                ExpressionAttributeNames={"#u": UNTIL},
                ExpressionAttributeValues={":u": {"N": f"{lease.until:.3f}"}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise


TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


def _transient(error: ClientError) -> bool:
    """Worth trying again: a throttle or a server-side failure (DynamoDB's retryable errors)."""
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return error.response.get("Error", {}).get("Code") in TRANSIENT_CODES or status >= 500


def _parse(item: dict[str, Any]) -> Lease | None:
    """A lease item, or None for anything malformed (counted as nothing: only its own owner spends by it)."""
    try:
        owner = str(item[SORT_KEY]["S"]).removeprefix(LEASE_PREFIX)
        since, until = float(item[SINCE]["N"]), float(item[UNTIL]["N"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(since) and math.isfinite(until)):
        return None
    return Lease(owner, since, until)


@dataclass(frozen=True, slots=True)
class Standing:
    """What the pacer needs: from when this execution may grant units, and what it divides ``W`` by."""

    active_at: float
    divisor: int


class LiveShare:
    """One execution's lease and its reading of the others'. ``prepare`` before every reservation."""

    def __init__(
        self, board: LeaseBoard, clock: Callable[[], float], rule: ShareRule | None = None, owner: str = ""
    ) -> None:
        self._board = board
        self._clock = clock
        self.rule = rule or ShareRule()
        self.owner = owner or uuid.uuid4().hex
        self._lease: Lease | None = None
        self._active_at = math.inf
        self._divisor: int | None = None
        self._read_at = -math.inf
        self._writes = 0  # lease writes made and not yet charged to the pacer's budget
        self.static = False  # leases refused for good: W / C, as every other execution does then
        self._problem: str | None = None  # the last join failure logged
        self._lock = threading.Lock()
        self._io = threading.Lock()  # one renewal or re-read at a time, outside ``_lock``

    def take_writes(self) -> int:
        """Lease writes (1 WCU each) made since the last call, for the pacer to charge to its budget."""
        with self._lock:
            writes, self._writes = self._writes, 0
            return writes

    def prepare(self, concurrency: int) -> Standing:
        """Join, renew and re-read as due; never raises for AWS errors (they are logged).

        Only a join blocks (the joiner may not grant anyway). A renewal or a re-read is made by one
        caller outside the lock while the others go on: with the last reading while it is younger
        than ``read_seconds`` (a re-read starts ``REFRESH_AHEAD_SECONDS`` before that), else with
        ``C``, which is always safe."""
        rule = self.rule
        with self._lock:
            if self.static:
                return Standing(-math.inf, concurrency)
            now = self._clock()
            lease = self._lease
            if lease is None or lease.until - now <= rule.lead_seconds + rule.skew_seconds:
                return self._join(concurrency)
            renew = lease.until - now < rule.renew_before_seconds
            read = now - self._read_at >= max(0.0, rule.read_seconds - REFRESH_AHEAD_SECONDS)
            if not ((renew or read) and self._io.acquire(blocking=False)):
                return Standing(self._active_at, self._usable(now, concurrency))
        try:
            if renew:
                renewed = Lease(self.owner, lease.since, now + rule.lease_seconds)
                if self._call("renew", self._board.put, renewed):
                    with self._lock:
                        self._writes += 1
                        if self._lease is lease:
                            self._lease = renewed
            if read:
                self._read(now)
        finally:
            self._io.release()
        with self._lock:
            return Standing(self._active_at, self._usable(self._clock(), concurrency))

    def _join(self, concurrency: int) -> Standing:
        rule = self.rule
        self._lease, self._active_at, self._divisor = None, math.inf, None
        lease = Lease(self.owner, self._clock(), self._clock() + rule.lease_seconds)
        try:
            self._board.put(lease)
        except ClientError as error:
            if not _transient(error):
                # No permission, no such table, a table of another key schema: the same for every
                # execution of the stage, so all of them share W by C, which is safe (the writes
                # themselves then meet the problem and report it).
                logger.warning("leases refused: sharing W by C", error=str(error))
                self.static = True
                return Standing(self._clock(), concurrency)
            return self._retry_join(error, concurrency)
        except BotoCoreError as error:
            return self._retry_join(error, concurrency)
        written = self._clock()
        self._problem = None
        self._lease = Lease(self.owner, written, lease.until)
        self._read(written, locked=True)
        if self._divisor is None:  # could not read: nobody is known to be absent
            self._active_at = written + rule.join_seconds
        else:
            self._active_at = written if self._divisor == 1 else written + rule.join_seconds
        logger.info("writer joined the live share", owner=self.owner, divisor=self._clamped(concurrency))
        return Standing(self._active_at, self._clamped(concurrency))  # the join write is in no budget

    def _retry_join(self, error: Exception, concurrency: int) -> Standing:
        """No lease, so no grants: ask again in a moment (the pacer waits, within the deadline)."""
        problem = f"{type(error).__name__}: {error}"
        if problem != self._problem:  # once per problem, not every retry
            self._problem = problem
            logger.warning("lease call failed", call="join", error=problem)
        return Standing(self._clock() + JOIN_RETRY_SECONDS, concurrency)

    def _read(self, started: float, *, locked: bool = False) -> None:
        """Re-read the leases (``started``: when the query was sent) and delete at most one dead one
        (a write, charged like a renewal). ``locked``: the caller holds the lock (a join)."""
        leases = self._call("read", self._board.read)
        with contextlib.nullcontext() if locked else self._lock:
            if not isinstance(leases, list):
                self._divisor = None  # C until a read works
                return
            self._read_at = started
            live = live_leases(leases, started, self.rule.skew_seconds)
            mine = any(lease.owner == self.owner for lease in live)
            self._divisor = len(live) + (0 if mine else 1)
        dead = [lease for lease in leases if lease.until < started - self.rule.lease_seconds]
        if dead and self._call("clean up", self._board.delete, dead[0]) is not None:
            with contextlib.nullcontext() if locked else self._lock:
                self._writes += 1

    def _usable(self, now: float, concurrency: int) -> int:
        """The last reading while it is young enough to price units with, else ``C``."""
        if now - self._read_at >= self.rule.read_seconds:
            return concurrency
        return self._clamped(concurrency)

    def _clamped(self, concurrency: int) -> int:
        return concurrency if self._divisor is None else divisor(self._divisor, concurrency)

    def _call(self, what: str, function: Callable[..., Any], *args: Any) -> Any:
        """The call's result (True for None), or None after an AWS error (logged, not raised)."""
        try:
            result = function(*args)
        except (BotoCoreError, ClientError) as error:
            logger.warning("lease call failed", call=what, error=f"{type(error).__name__}: {error}")
            return None
        return True if result is None else result
