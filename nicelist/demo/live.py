"""The live view while the demo runs: a rich table on a terminal, a line every few seconds elsewhere."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from nicelist.demo.monitor import MeterReader, Monitor
from nicelist.demo.sender import SendCounts
from nicelist.demo.workload import Phase

PLAIN_EVERY = 5.0  # seconds between lines when not on a terminal


class LiveView:
    def __init__(
        self,
        phases: Sequence[Phase],
        meter: MeterReader,
        monitor: Monitor | None,
        counts: SendCounts,
        capacity: float,
        enabled: bool = True,
    ) -> None:
        self._phases = phases
        self._meter = meter
        self._monitor = monitor
        self._counts = counts
        self._capacity = capacity
        self._enabled = enabled
        self._console = Console(stderr=True)
        self._live: Live | None = None
        self._started = time.monotonic()
        self._last_plain = 0.0

    def __enter__(self) -> LiveView:
        self._started = time.monotonic()
        if self._enabled and self._console.is_terminal:
            self._live = Live(self._table(), console=self._console, refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(kind, error, trace)

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._table())
        elif self._enabled and time.monotonic() - self._last_plain >= PLAIN_EVERY:
            self._last_plain = time.monotonic()
            self._console.print(" | ".join(f"{k} {v}" for k, v in self._rows()))

    def _phase(self, elapsed: float) -> str:
        end = 0.0
        for phase in self._phases:
            end += phase.seconds
            if elapsed < end:
                return phase.name
        return "draining"

    def _rows(self) -> list[tuple[str, str]]:
        elapsed = time.monotonic() - self._started
        now = int(time.time())
        enqueued = self._counts.per_second.get(now - 1, 0)
        stats = self._meter.table_stats(3)
        series = stats.get("series", [])
        last = series[-2] if len(series) >= 2 else {"units": 0, "throttled_units": 0}
        rows = [
            ("t", f"{elapsed:5.0f}s {self._phase(elapsed)}"),
            ("accepted", f"{self._counts.accepted:,} (+{enqueued}/s)"),
            ("table", f"{last['units']:>4} / {self._capacity:g} WCU/s"),
            ("throttled", f"{last['throttled_units']} WCU/s"),
        ]
        sample = self._monitor.timeline.latest() if self._monitor else None
        if sample is not None:
            backlog = "unknown" if sample.backlog_updates is None else f"{sample.backlog_updates:,} updates"
            rows += [
                ("backlog", f"{backlog} in {sample.queued:,} msgs ({sample.in_flight} in flight)"),
                ("backlog age", f"{sample.backlog_age:.0f}s"),
                ("dlq", f"{sample.dlq}"),
            ]
        return rows

    def _table(self) -> Table:
        table = Table(title="nicelist demo", show_header=False, min_width=60)
        for label, value in self._rows():
            table.add_row(label, value)
        return table
