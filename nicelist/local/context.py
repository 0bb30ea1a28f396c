"""The ``context`` argument a Lambda handler receives, with a real deadline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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

    @classmethod
    def starting_now(
        cls, function_name: str, timeout_s: float, clock_ms: Callable[[], int] = _now_ms, **fields: Any
    ) -> LambdaContext:
        """A context for an invocation of ``function_name`` that starts now and may run ``timeout_s``."""
        defaults: dict[str, Any] = {
            "function_version": "$LATEST",
            "invoked_function_arn": f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
            "memory_limit_in_mb": 256,
            "aws_request_id": str(uuid.uuid4()),
            "log_group_name": f"/aws/lambda/{function_name}",
            "log_stream_name": "local",
        }
        deadline_ms = clock_ms() + int(timeout_s * 1000)
        return cls(function_name=function_name, deadline_ms=deadline_ms, clock_ms=clock_ms, **(defaults | fields))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - self.clock_ms())
