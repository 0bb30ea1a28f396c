"""Jittered exponential backoff against a deadline, with time and randomness injected.

Tests pass a fake clock whose ``sleep`` advances ``now``, so retries run instantly and
deterministically (the same shape as botocore's ``retries`` package).
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KMS.ThrottlingException",
        "KmsThrottled",  # SQS's own code for a throttled KMS key (SSE-KMS queues), call or entry
    }
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Full-jitter backoff: the n-th wait is uniform in [0, min(max_delay, base_delay * 2**n)]."""

    base_delay: float = 0.05
    max_delay: float = 2.0
    # Give up this long after the first attempt; the updates are then handed back, never dropped.
    deadline_seconds: float = 30.0


@dataclass(slots=True)
class Backoff:
    """One retry sequence. ``wait()`` sleeps and returns True, or returns False when the deadline is near."""

    policy: RetryPolicy
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    random: _random.Random = field(default_factory=_random.Random)
    deadline: float | None = None
    attempt: int = 0

    def __post_init__(self) -> None:
        if self.deadline is None:
            self.deadline = self.clock() + self.policy.deadline_seconds

    def wait(self, at_least: float = 0.0) -> bool:
        ceiling = min(self.policy.max_delay, self.policy.base_delay * 2**self.attempt)
        delay = max(at_least, self.random.uniform(0, ceiling))
        assert self.deadline is not None
        if self.clock() + delay > self.deadline:
            return False
        self.attempt += 1
        self.sleep(delay)
        return True


# Botocore errors that are the caller's setup, not the network: retrying them only delays the refusal.
_NEVER_BETTER = (NoCredentialsError, PartialCredentialsError, ParamValidationError, NoRegionError)


def is_retryable(error: BaseException) -> bool:
    """Throttling, 5xx and connection-level errors may pass; anything else will not get better."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in THROTTLING_CODES or status >= 500 or status == 429
    if isinstance(error, _NEVER_BETTER):
        return False
    return isinstance(error, BotoCoreError | ConnectionError | TimeoutError)


def describe(error: BaseException) -> str:
    """A short reason for humans: the AWS error code, or the exception's class."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__
