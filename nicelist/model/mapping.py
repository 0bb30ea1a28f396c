"""Lambda's SQS event source mapping: how many batches run at once, minute by minute.

Rules (AWS Lambda Developer Guide, "Configuring scaling behavior for SQS event source mappings"):

- Standard mode: "When messages are available, Lambda starts processing five batches at a time with
  five concurrent invocations of your function. If messages are still available, Lambda increases
  the number of processes that are reading batches by up to 300 more instances per minute. The
  maximum number of batches that an event source mapping can process simultaneously is 1,000."
- ``ScalingConfig.MaximumConcurrency`` (2-1,000) caps the invocations the mapping makes; the
  function's reserved concurrency caps what Lambda runs (beyond it the poller is throttled, which
  ``nicelist deploy configure`` avoids by setting the maximum to C and reserved to C).
- Provisioned mode ("ProvisionedPollerConfig"): ``MinimumPollers`` (default 2) event pollers are kept
  ready and the mapping scales "3 times faster" (900 a minute here) up to ``MaximumPollers`` (default
  200); each poller runs up to ``INVOCATIONS_PER_POLLER`` concurrent invocations (an assumption: the
  guide states pollers' throughput, ~5 MB/s each, not their invocations). Provisioned mode and
  maximum concurrency are mutually exclusive, so only reserved concurrency caps it.

The level steps once a minute: up by the ramp while more batches are wanted than run, back down to
what is wanted (never below the starting level) when traffic is low ("When traffic is low, Lambda
scales back the processing to five concurrent batches").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STANDARD_INITIAL_BATCHES = 5
STANDARD_RAMP_PER_MINUTE = 300
MAPPING_MAX_BATCHES = 1_000
PROVISIONED_SPEEDUP = 3
PROVISIONED_DEFAULT_MIN_POLLERS = 2
PROVISIONED_DEFAULT_MAX_POLLERS = 200
INVOCATIONS_PER_POLLER = 10


@dataclass(frozen=True, slots=True)
class Mapping:
    """One event source mapping and the function behind it."""

    batch_size: int = 10
    batching_window: float = 0.0
    maximum_concurrency: int = 2  # ScalingConfig.MaximumConcurrency (= C in nicelist)
    reserved_concurrency: int | None = None  # None: the same as the maximum (nicelist's rule)
    provisioned: bool = False
    minimum_pollers: int = PROVISIONED_DEFAULT_MIN_POLLERS
    maximum_pollers: int = PROVISIONED_DEFAULT_MAX_POLLERS
    initial_batches: int = STANDARD_INITIAL_BATCHES
    ramp_per_minute: int = STANDARD_RAMP_PER_MINUTE

    @property
    def ceiling(self) -> int:
        """The most executions that can ever run at once."""
        reserved = self.reserved_concurrency if self.reserved_concurrency is not None else self.maximum_concurrency
        if self.provisioned:
            return min(reserved, self.maximum_pollers * INVOCATIONS_PER_POLLER)
        return min(reserved, self.maximum_concurrency, MAPPING_MAX_BATCHES)

    @property
    def start(self) -> int:
        """Batches at once when messages first appear."""
        first = self.minimum_pollers * INVOCATIONS_PER_POLLER if self.provisioned else self.initial_batches
        return min(self.ceiling, first)

    @property
    def step(self) -> int:
        return PROVISIONED_SPEEDUP * self.ramp_per_minute if self.provisioned else self.ramp_per_minute

    def next_level(self, level: int, wanted: int) -> int:
        """The level one minute on, given the batches ``wanted`` (running + enough for what is visible)."""
        if wanted > level:
            return min(self.ceiling, level + self.step)
        return max(self.start, min(level, wanted))

    def concurrency(self, active_seconds: float) -> int:
        """Batches that may run ``active_seconds`` after messages became available, while they keep coming."""
        level = self.start
        for _ in range(math.floor(max(0.0, active_seconds) / 60)):
            level = self.next_level(level, self.ceiling)
        return level
