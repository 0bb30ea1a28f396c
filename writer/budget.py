"""The table-wide write budget, read from SSM with a short cache so operators can tune it live."""

from __future__ import annotations

import math
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from writer.observability import logger


class WriteBudget:
    """``W`` WCU/s from ``/nicelist/<stage>/write-rate``, split evenly over ``concurrency`` executions.

    If the parameter cannot be read, the last good value is kept (or the configured fallback
    before any was read): a flaky SSM must not stop the drain, nor speed it up.
    """

    def __init__(self, ssm: Any, parameter: str, fallback: float, max_age: float, concurrency: int) -> None:
        self._provider = SSMProvider(boto3_client=ssm)
        self._parameter = parameter
        self._last = fallback
        self._max_age = int(max_age)
        self._concurrency = concurrency

    def table_rate(self) -> float:
        try:
            raw = self._provider.get(self._parameter, max_age=self._max_age)
            value = float(str(raw))
        except (GetParameterError, ValueError) as error:
            logger.warning("write-rate parameter unreadable, keeping %.1f WCU/s: %s", self._last, error)
            return self._last
        if not math.isfinite(value) or value <= 0:
            logger.warning("write-rate parameter %r is not a positive number, keeping %.1f", raw, self._last)
            return self._last
        self._last = value
        return value

    def share(self) -> float:
        """This execution's WCU/s: the budget divided by the executions that share it."""
        return self.table_rate() / self._concurrency
