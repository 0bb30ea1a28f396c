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
- every reader re-reads the leases (a strongly consistent ``Query``) at least every ``read_seconds``
  before it reserves, and reserves at most ``lead_seconds`` ahead (``SecondBudget``'s ``max_lead``),
  so units granted at ``t`` were priced from a read after ``t - read - lead``;
- a newcomer writes its lease, then reads: if it sees no other live lease nobody else is granting
  (they would hold one), and it starts at once with ``d = 1``; otherwise it grants nothing for
  ``join_seconds = read + lead + skew`` after its write, by which time every other reader has counted
  it. A reader that counts a lease of an execution that already stopped only divides by more;
- ``d`` is clamped to ``C``: at most ``C`` executions run (reserved concurrency), so ``d = C`` is safe
  whatever was read, which is also what a failed read falls back to while the own lease is valid;
- an execution whose lease could not be renewed in time stops granting and joins again; one whose
  join write fails waits and tries again (no lease, no grants); one refused the permission
  (``AccessDeniedException``) shares by ``C``, as every execution of that role then does.

The cost: a lease ``PutItem`` (1 WCU) when an execution joins and every ``lease - renew_before``
seconds while it runs, taken from its own budget; one strongly consistent ``Query`` per
``read_seconds`` per execution (1 RCU while the leases fit 4 KB, about 30 of them); a ``DeleteItem``
for a lease dead for ``lease_seconds`` (the execution was reclaimed), at most one per read.
The join write itself is not in anyone's budget (the joiner has none yet): at most 1 WCU per joining
execution in its second, inside the 3 % the stage keeps between ``W`` and the table's capacity.
"""

from __future__ import annotations

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
        self.static = False  # no permission for leases: W / C, as every other execution does then
        self._lock = threading.Lock()

    def take_writes(self) -> int:
        """Lease writes (1 WCU each) made since the last call, for the pacer to charge to its budget."""
        with self._lock:
            writes, self._writes = self._writes, 0
            return writes

    def prepare(self, concurrency: int) -> Standing:
        """Join, renew and re-read as due; never raises for AWS errors (they are logged)."""
        with self._lock:
            if self.static:
                return Standing(-math.inf, concurrency)
            rule = self.rule
            now = self._clock()
            lease = self._lease
            if lease is None or lease.until - now <= rule.lead_seconds + rule.skew_seconds:
                return self._join(concurrency)
            if lease.until - now < rule.renew_before_seconds:
                renewed = Lease(self.owner, lease.since, now + rule.lease_seconds)
                if self._call("renew", self._board.put, renewed):
                    self._lease = renewed
                    self._writes += 1
            if now - self._read_at >= rule.read_seconds:
                self._read(now)
            return Standing(self._active_at, self._clamped(concurrency))

    def _join(self, concurrency: int) -> Standing:
        rule = self.rule
        self._lease, self._active_at, self._divisor = None, math.inf, None
        lease = Lease(self.owner, self._clock(), self._clock() + rule.lease_seconds)
        try:
            self._board.put(lease)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "AccessDeniedException":
                # Every execution has the same role: all of them fall back to W / C, which is safe.
                logger.warning("no permission for leases: sharing W by C", error=str(error))
                self.static = True
                return Standing(self._clock(), concurrency)
            return self._retry_join(error, concurrency)
        except BotoCoreError as error:
            return self._retry_join(error, concurrency)
        written = self._clock()
        self._lease = Lease(self.owner, written, lease.until)
        self._read(written)
        if self._divisor is None:  # could not read: nobody is known to be absent
            self._active_at = written + rule.join_seconds
        else:
            self._active_at = written if self._divisor == 1 else written + rule.join_seconds
        logger.info("writer joined the live share", owner=self.owner, divisor=self._clamped(concurrency))
        return Standing(self._active_at, self._clamped(concurrency))  # the join write is in no budget

    def _retry_join(self, error: Exception, concurrency: int) -> Standing:
        """No lease, so no grants: ask again in a moment (the pacer waits, within the deadline)."""
        logger.warning("lease call failed", call="join", error=f"{type(error).__name__}: {error}")
        return Standing(self._clock() + JOIN_RETRY_SECONDS, concurrency)

    def _read(self, now: float) -> None:
        """Re-read the leases and delete at most one dead one (a write, charged like a renewal)."""
        leases = self._call("read", self._board.read)
        if leases is None or not isinstance(leases, list):
            self._divisor = None  # clamped to C until a read works
            return
        self._read_at = now
        live = live_leases(leases, now, self.rule.skew_seconds)
        mine = any(lease.owner == self.owner for lease in live)
        self._divisor = len(live) + (0 if mine else 1)
        dead = [lease for lease in leases if lease.until < now - self.rule.lease_seconds]
        if dead and self._call("clean up", self._board.delete, dead[0]) is not None:
            self._writes += 1

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
