"""The table-wide write budget and how many executions share it, read from SSM with a short cache.

Operators change both during a peak without a redeploy: ``nicelist rate`` writes the budget ``W``
(``/nicelist/<stage>/write-rate``), and whatever changes the writers' concurrency (``nicelist tune``
locally, ``nicelist deploy configure`` on AWS) writes ``C`` (``/nicelist/<stage>/writer-concurrency``).
Each execution spends ``W / C``; ``writer.pacing`` computes and spends it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from writer.observability import logger


class _Parameter:
    """One numeric parameter: the last good value is kept when SSM is unreadable or the value is bad,
    so a flaky SSM can neither stop the drain nor speed it up. Each problem is logged once, not per batch."""

    def __init__(
        self, provider: SSMProvider, name: str, fallback: float, parse: Callable[[str], float], max_age: int
    ) -> None:
        self._provider = provider
        self._name = name
        self._parse = parse
        self._max_age = max_age
        self.value = fallback
        self._problem: str | None = None

    def read(self) -> float:
        try:
            raw = str(self._provider.get(self._name, max_age=self._max_age))
            value = self._parse(raw)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{raw!r} is not a positive number")
        except (GetParameterError, ValueError) as error:
            self._report(f"{type(error).__name__}: {error}")
            return self.value
        self._problem = None
        self.value = value
        return value

    def _report(self, problem: str) -> None:
        if problem != self._problem:
            self._problem = problem
            logger.warning(
                "parameter unreadable, keeping the last value", parameter=self._name, value=self.value, error=problem
            )


class BudgetParameters:
    """``W`` (WCU/s, table-wide) and ``C`` (executions sharing it), with the settings as fallbacks."""

    def __init__(
        self,
        ssm: Any,
        *,
        rate_parameter: str,
        rate_fallback: float,
        concurrency_parameter: str,
        concurrency_fallback: int,
        max_age: float,
    ) -> None:
        provider = SSMProvider(boto3_client=ssm)
        self._rate = _Parameter(provider, rate_parameter, rate_fallback, float, int(max_age))
        self._concurrency = _Parameter(provider, concurrency_parameter, concurrency_fallback, int, int(max_age))

    def table_rate(self) -> float:
        return self._rate.read()

    def executions(self) -> int:
        return int(self._concurrency.read())

    def last_known(self) -> tuple[float, int]:
        """``(W, C)`` as last read (the fallbacks before the first read), without asking SSM."""
        return self._rate.value, int(self._concurrency.value)
