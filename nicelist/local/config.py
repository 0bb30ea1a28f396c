"""The writer runtime's configuration: what Lambda's function settings and SQS event source mapping hold.

Validation mirrors the limits AWS enforces, so a configuration that starts locally also deploys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nicelist.local.ramp import OFF, PollerRamp

DEFAULT_HANDLER = "writer.handler:lambda_handler"
MAX_BATCH_SIZE = 10_000
MAX_WINDOW_SECONDS = 300.0
MAX_TIMEOUT_SECONDS = 900.0
SQS_MAX_WAIT_SECONDS = 20


class ConfigError(ValueError):
    """A setting AWS would reject (or that cannot work locally)."""


@dataclass(frozen=True, slots=True)
class Tuning:
    """The settings an operator may change while the runtime runs (``nicelist tune``).

    ``reserved_concurrency`` is the function's (None: unreserved, never throttles);
    ``maximum_concurrency`` is the event source mapping's ``ScalingConfig.MaximumConcurrency``.
    """

    reserved_concurrency: int | None = None
    maximum_concurrency: int = 2
    batch_size: int = 10
    batching_window_seconds: float = 0.0

    def __post_init__(self) -> None:
        counts = (self.maximum_concurrency, self.batch_size, self.reserved_concurrency or 0)
        if any(isinstance(n, bool) or not isinstance(n, int) for n in counts):
            raise ConfigError("concurrencies and batch size must be whole numbers")
        if isinstance(self.batching_window_seconds, bool) or not isinstance(self.batching_window_seconds, int | float):
            raise ConfigError("the batching window must be a number of seconds")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 0:
            raise ConfigError("reserved concurrency must be >= 0")
        if self.maximum_concurrency < 1:
            raise ConfigError("maximum concurrency must be >= 1 (AWS requires 2..1000)")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ConfigError(f"batch size must be in 1..{MAX_BATCH_SIZE}")
        if not 0 <= self.batching_window_seconds <= MAX_WINDOW_SECONDS:
            raise ConfigError(f"batching window must be in 0..{MAX_WINDOW_SECONDS:g} seconds")
        if self.batch_size > 10 and self.batching_window_seconds < 1:
            # CreateEventSourceMapping rejects this combination for SQS.
            raise ConfigError("a batch size above 10 needs a batching window of at least 1 second")

    @property
    def effective_concurrency(self) -> int:
        """How many invocations can run at once: min(reserved, maximum)."""
        if self.reserved_concurrency is None:
            return self.maximum_concurrency
        return min(self.reserved_concurrency, self.maximum_concurrency)

    def with_changes(self, changes: Mapping[str, Any]) -> Tuning:
        """A new validated tuning; unknown names are an error, not silently ignored."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown tuning settings: {sorted(unknown)}")
        try:
            return dataclasses.replace(self, **changes)
        except TypeError as error:
            raise ConfigError(str(error)) from error

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """Everything the runtime needs; explicit, no environment lookups of its own.

        ``endpoint_url`` and ``region`` go to the runtime's SQS client and, as ``AWS_ENDPOINT_URL`` /
        ``AWS_REGION``, to every execution; ``environment`` is added on top (the function's variables).
        ``control_port``: None = no control endpoint, 0 = a free port. ``poller_ramp``: how the pollers grow
    (``nicelist.local.ramp``), not changeable while running.
    """

    queue_url: str
    handler: str = DEFAULT_HANDLER
    tuning: Tuning = field(default_factory=Tuning)
    wait_time_seconds: int = SQS_MAX_WAIT_SECONDS
    timeout_seconds: float = 30.0
    memory_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict)
    endpoint_url: str | None = None
    region: str | None = None
    function_name: str = "nicelist-local-writer"
    control_port: int | None = None
    log_path: Path | None = None
    python_path: tuple[str, ...] = ()
    throttle_backoff_seconds: float = 1.0
    init_timeout_seconds: float = 10.0
    # Lambda's poller scaling (nicelist/local/ramp.py); OFF: maximum concurrency from the start.
    poller_ramp: PollerRamp = OFF
    sample_seconds: float = 0.2  # how often the ramp's timeline samples the invocations in flight

    def __post_init__(self) -> None:
        if not 0 <= self.wait_time_seconds <= SQS_MAX_WAIT_SECONDS:
            raise ConfigError(f"wait time must be in 0..{SQS_MAX_WAIT_SECONDS} seconds")
        if not 0 < self.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ConfigError(f"timeout must be in (0, {MAX_TIMEOUT_SECONDS:g}] seconds")
        if not 128 <= self.memory_mb <= 10_240:
            raise ConfigError("memory must be in 128..10240 MB")
        if not self.handler.replace(":", ".").count("."):
            raise ConfigError(f"handler must be 'module:function', got {self.handler!r}")
