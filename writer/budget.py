"""The table-wide write budget and how many executions share it, read from SSM with a short cache.

Operators change both during a peak without a redeploy: ``nicelist rate`` writes the budget ``W``
(``/nicelist/<stage>/write-rate``), and whatever changes the writers' concurrency (``nicelist tune``
locally, ``nicelist deploy configure`` on AWS) writes ``C`` (``/nicelist/<stage>/writer-concurrency``).
Each execution spends ``W / C``; ``writer.pacing`` computes and spends it.

The write-rate parameter may also hold ``auto[:F]`` (``writer.autorate``): W is then F x the table's
capacity from DescribeTable, cached as long as the parameters are. The bound after DynamoDB auto
scaling lowers the capacity (docs/design.md, "Pacing"): a writer may spend F x the old capacity for
at most the cache time plus the batch it is in; an unreadable table keeps the last W derived.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from writer.autorate import AutoRate, FixedRate, RateSpec, TableThroughput, auto_rate, parse_write_rate
from writer.observability import logger

T = TypeVar("T")


class _Problems:
    """Each problem of one source is logged once, not per batch; a good read clears it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._problem: str | None = None

    def clear(self) -> None:
        self._problem = None

    def report(self, problem: str, value: Any) -> None:
        if problem != self._problem:
            self._problem = problem
            logger.warning(
                "parameter unreadable, keeping the last value", parameter=self._name, value=value, error=problem
            )


class _Parameter(Generic[T]):
    """One parameter: the last good value is kept when SSM is unreadable or the value is bad,
    so a flaky SSM can neither stop the drain nor speed it up."""

    def __init__(self, provider: SSMProvider, name: str, fallback: T, parse: Callable[[str], T], max_age: int) -> None:
        self._provider = provider
        self._name = name
        self._parse = parse
        self._max_age = max_age
        self.value = fallback
        self._problems = _Problems(name)

    def read(self) -> T:
        try:
            value = self._parse(str(self._provider.get(self._name, max_age=self._max_age)))
        except (GetParameterError, ValueError) as error:
            self._problems.report(f"{type(error).__name__}: {error}", str(self.value))
            return self.value
        self._problems.clear()
        self.value = value
        return value


def _executions(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive number")
    return value


class TableCapacity:
    """The table's write throughput from DescribeTable, re-read at most every ``max_age`` seconds.

    On an error the last good reading is kept (None before the first), so a DescribeTable outage
    neither stops the drain nor lets it exceed what the table last stated."""

    def __init__(self, dynamodb: Any, table: str, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._max_age = max_age
        self._clock = clock
        self._read_at: float | None = None
        self.value: TableThroughput | None = None
        self._problems = _Problems(f"DescribeTable {table}")

    def read(self) -> TableThroughput | None:
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self._max_age:
            return self.value
        self._read_at = now  # an error is retried after max_age too, not on every batch
        try:
            self.value = TableThroughput.from_description(self._dynamodb.describe_table(TableName=self._table)["Table"])
        except (BotoCoreError, ClientError, KeyError, TypeError, ValueError) as error:
            self._problems.report(
                f"{type(error).__name__}: {error}", None if self.value is None else self.value.ceiling
            )
            return self.value
        self._problems.clear()
        return self.value


class BudgetParameters:
    """``W`` (WCU/s, table-wide) and ``C`` (executions sharing it), with the settings as fallbacks.

    ``W`` is the parameter's number, or in ``auto`` mode the fraction of the table's capacity
    (``table``: DescribeTable through the writer's DynamoDB client); until the table has been read
    once, the last W (the fallback at first) stays."""

    def __init__(
        self,
        ssm: Any,
        *,
        rate_parameter: str,
        rate_fallback: float,
        concurrency_parameter: str,
        concurrency_fallback: int,
        max_age: float,
        table: TableCapacity | None = None,
    ) -> None:
        provider = SSMProvider(boto3_client=ssm)
        self._rate: _Parameter[RateSpec] = _Parameter(
            provider, rate_parameter, FixedRate(rate_fallback), parse_write_rate, int(max_age)
        )
        self._concurrency = _Parameter(provider, concurrency_parameter, concurrency_fallback, _executions, int(max_age))
        self._table = table
        self._last_rate = rate_fallback

    @property
    def spec(self) -> RateSpec:
        """What the write-rate parameter last said (a number, or auto with its fraction)."""
        return self._rate.value

    def table_rate(self) -> float:
        spec = self._rate.read()
        if isinstance(spec, AutoRate):
            throughput = self._table.read() if self._table is not None else None
            if throughput is not None:
                self._last_rate = auto_rate(spec, throughput)
        else:
            self._last_rate = spec.wcu
        return self._last_rate

    def executions(self) -> int:
        return self._concurrency.read()

    def last_known(self) -> tuple[float, int]:
        """``(W, C)`` as last read (the fallbacks before the first read), without asking SSM."""
        return self._last_rate, self._concurrency.value
