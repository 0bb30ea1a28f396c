"""The ``context`` argument a Lambda handler receives, with a real deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class LambdaContext:
    """The attributes of AWS's Python ``LambdaContext`` that handlers use.

    ``deadline_ms`` is epoch milliseconds, as in Lambda's runtime API; the clock is injectable for tests.
    """

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    clock_ms: Callable[[], int] = field(default=_now_ms, repr=False, compare=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - self.clock_ms())
