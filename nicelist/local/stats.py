"""Counters the runtime keeps for the demo and the control endpoint; safe to read from any thread."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """One consistent reading.

    ``records_received`` counts every delivery, throttled ones included; ``records_failed`` are those an
    invocation left on the queue to reappear (reported failures and whole failed batches);
    ``throttled_records`` went back unseen by the handler. ``concurrency`` is min(reserved, maximum),
    ``in_flight`` the invocations running now, ``executions`` the live execution processes.
    """

    invocations: int = 0
    records_received: int = 0
    records_deleted: int = 0
    records_failed: int = 0
    delete_failures: int = 0
    batch_failures: int = 0
    timeouts: int = 0
    executions_replaced: int = 0
    throttled_invocations: int = 0
    throttled_records: int = 0
    concurrency: int = 0
    in_flight: int = 0
    executions: int = 0
    pollers: int = 0  # the pollers the ramp lets poll now (nicelist/local/ramp.py)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_COUNTERS = tuple(
    f.name
    for f in dataclasses.fields(StatsSnapshot)
    if f.name not in {"concurrency", "in_flight", "executions", "executions_replaced", "pollers"}
)


class RuntimeStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(_COUNTERS, 0)

    def add(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                self._counts[name] += value  # KeyError on a misspelt counter, on purpose

    def snapshot(
        self, *, concurrency: int, in_flight: int, executions: int, replaced: int, pollers: int = 0
    ) -> StatsSnapshot:
        with self._lock:
            counts = dict(self._counts)
        return StatsSnapshot(
            **counts,
            concurrency=concurrency,
            in_flight=in_flight,
            executions=executions,
            executions_replaced=replaced,
            pollers=pollers,
        )
