"""How the queue delivers to the writer: the rules provisioning applies, the deploy check proves, and
the writer relies on (docs/design.md, "Resources per stage" and "Known traps"). Each rule is named once.
"""

from __future__ import annotations

# Reserved concurrency throttles Lambda's poller, and every throttled receive counts: a redrive
# policy below this moves valid updates to the DLQ for throttling alone.
MIN_MAX_RECEIVE_COUNT = 5
# What provisioning sets and what the writer assumes (``NICELIST_MAX_RECEIVE_COUNT``) unless told otherwise.
DEFAULT_MAX_RECEIVE_COUNT = 5
# SQS's largest message: body plus every attribute's name, type and value. Provisioning sets it on both
# queues, and whatever the writer sends (deferrals, dead letters) is sized to fit it.
MAX_MESSAGE_BYTES = 1024 * 1024
# AWS's guidance for an SQS event source: visibility timeout at least six times the function's timeout.
VISIBILITY_TIMEOUT_FACTOR = 6


def min_visibility_timeout(writer_timeout: int) -> int:
    """The shortest visibility timeout (seconds) a queue feeding a writer with ``writer_timeout`` may have."""
    return VISIBILITY_TIMEOUT_FACTOR * writer_timeout
