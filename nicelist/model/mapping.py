"""Lambda's SQS event source mapping: batches of how many messages, and how many batches at once.

The poller ramp is the local runtime's own rule, reused (``nicelist.local.ramp``: AWS's documented
numbers, with their sources): standard mode starts with five concurrent batches and adds up to 300 a
minute while messages remain, up to 1,250 or ``MaximumConcurrency``; a receive that brings nothing
lowers the target by one, down to five; provisioned mode keeps ``MinimumPollers`` x 10 ready and
adds 1,000 a minute up to ``MaximumPollers`` x 10. The model and the runtime ramp the same way, so
what the check compares is everything else.

Also (AWS Lambda Developer Guide, "Using Lambda with Amazon SQS"): a batch is at most
``BatchSize`` messages; with no batching window the poller invokes as soon as one receive brought
messages (at most 10, ``nicelist.local.poller.gather``); reserved concurrency below the mapping's
maximum throttles the invokes beyond it (``nicelist deploy configure`` sets both to C).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nicelist.local.ramp import OFF, PollerRamp, RampState, advance, parse_ramp, start

AWS_RAMP = parse_ramp("aws")


@dataclass(frozen=True, slots=True)
class Mapping:
    """One event source mapping and the function behind it."""

    batch_size: int = 10
    batching_window: float = 0.0
    maximum_concurrency: int = 2  # ScalingConfig.MaximumConcurrency (= C in nicelist)
    reserved_concurrency: int | None = None  # None: the same as the maximum (nicelist's rule)
    ramp: PollerRamp = field(default=AWS_RAMP)

    @property
    def ceiling(self) -> int:
        """The most executions that can ever run at once."""
        reserved = self.reserved_concurrency if self.reserved_concurrency is not None else self.maximum_concurrency
        return min(reserved, self.ramp.bounds(self.maximum_concurrency)[1])

    def start(self, now: float) -> RampState:
        return start(self.ramp, self.maximum_concurrency, now)

    def advance(self, state: RampState, now: float, received: int | None) -> RampState:
        """The ramp at ``now`` after a receive of ``received`` messages (None: none was made)."""
        return advance(self.ramp, state, cap=self.maximum_concurrency, now=now, received=received)

    def running(self, state: RampState) -> int:
        """Batches that may run: the ramp's target, within reserved concurrency."""
        return min(self.ceiling, state.target)


__all__ = ["AWS_RAMP", "OFF", "Mapping"]
