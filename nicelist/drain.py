"""How long the backlog takes to drain, and what that figure rests on (docs/operating.md, "Drain estimate").

    seconds = backlog messages x updates per message x write units per update / write rate

Every factor says where it came from, because an operator at 18:00 on 23 December decides on it:

- **updates per message**: given (``--updates-per-message``), else measured from the writers' own
  ``batch done`` log lines of the last minutes (their ``updates`` / ``messages``), read through
  ``nicelist.logs`` — CloudWatch Logs on a deployed stage, the run directory's ``writer.log`` locally,
  one code path. A message holds one update from ``SendMessage`` of a single update, up to thousands
  from the API's or the SDK's envelopes, so "1" can be wrong by three orders of magnitude; without
  any measurement the estimate says it assumed 1.
- **write units per update**: the demo mix's 1.375 (BENCHMARKS.md), ``--units-per-update`` in plan.
- **write rate**: the rate the table is seen taking (``measured``) when there is one above zero,
  else the budget W capped at the table's provisioned capacity (``budget``): what the writers may spend.

It assumes nothing new arrives, and that the rate holds (no new throttles, no retries).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from nicelist.logs import Source, merged
from nicelist.plan import DEFAULT_UNITS_PER_UPDATE

MIX_WINDOW = dt.timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class MessageMix:
    """Updates per message and where that figure came from: ``given``, ``writer logs`` or ``assumed``."""

    updates_per_message: float
    source: str
    messages_seen: int = 0

    def describe(self) -> str:
        if self.source == "writer logs":
            return f"{self.updates_per_message:,.1f} updates/message (writer logs, {self.messages_seen:,} messages)"
        if self.source == "given":
            return f"{self.updates_per_message:g} updates/message (--updates-per-message)"
        return f"{self.updates_per_message:g} update/message (assumed: no writer logs of the last 10 min)"


class LoggedMix:
    """``updates / messages`` over the writers' ``batch done`` lines of the last ``MIX_WINDOW``, read
    incrementally: each ``read`` asks the sources only for lines they have not returned before."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self._sources = sources
        self._batches: list[tuple[dt.datetime, int, int]] = []  # (at, messages, updates)

    def read(self, now: dt.datetime) -> MessageMix | None:
        start = now - MIX_WINDOW
        for line in merged(self._sources, start, "batch done"):
            counted = line.fields.get("messages"), line.fields.get("updates")
            if line.message == "batch done" and all(_count(n) for n in counted):
                self._batches.append((line.at, int(counted[0]), int(counted[1])))  # type: ignore[arg-type]
        self._batches = [batch for batch in self._batches if batch[0] >= start]
        messages = sum(batch[1] for batch in self._batches)
        if messages == 0:
            return None
        return MessageMix(sum(batch[2] for batch in self._batches) / messages, "writer logs", messages)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def message_mix(given: float | None, logged: LoggedMix | None, now: dt.datetime) -> MessageMix:
    if given is not None:
        return MessageMix(given, "given")
    measured = logged.read(now) if logged is not None else None
    return measured or MessageMix(1.0, "assumed")


@dataclass(frozen=True, slots=True)
class DrainEstimate:
    seconds: float | None  # None: no backlog figure or no rate to drain at
    messages: int | None
    mix: MessageMix
    units_per_update: float
    rate_wcu_s: float | None
    rate_source: str | None  # "measured" | "budget" | None
    seconds_at_budget: float | None = None  # beside a measured estimate: the same backlog at W

    @property
    def line(self) -> str:
        if self.seconds is None:
            why = "no queue figure" if self.messages is None else "no write rate (W unset and nothing measured)"
            return f"drain estimate: unknown ({why})"
        if self.messages == 0:
            return "drain estimate: nothing to drain (the queue is empty)"
        return (
            f"drain estimate: {_duration(self.seconds)} = {self.messages:,} messages x {self.mix.describe()}"
            f" x {self.units_per_update:g} WCU/update / {self.rate_wcu_s:g} WCU/s ({self.rate_source});\n"
            + (
                f"  {_duration(self.seconds_at_budget)} at W if the writers spend all of it"
                " (a 60 s mean reads low just after a spike starts);\n"
                if self.seconds_at_budget is not None and self.rate_source == "measured"
                else ""
            )
            + "  assumes nothing new arrives and the rate holds"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "line": self.line}


def estimate(
    messages: int | None,
    mix: MessageMix,
    *,
    measured: float | None,
    budget: float | None,
    capacity: float | None = None,
    units_per_update: float = DEFAULT_UNITS_PER_UPDATE,
) -> DrainEstimate:
    spendable = (min(budget, capacity) if capacity else budget) if budget else None

    def at(rate: float | None) -> float | None:
        return None if messages is None or not rate else messages * mix.updates_per_message * units_per_update / rate

    rate: float | None
    source: str | None
    if measured is not None and measured > 0:
        rate, source = measured, "measured"
    else:
        rate, source = spendable, ("budget" if spendable else None)
    seconds = at(rate)
    return DrainEstimate(
        seconds=seconds,
        messages=messages,
        mix=mix,
        units_per_update=units_per_update,
        rate_wcu_s=rate,
        rate_source=source,
        seconds_at_budget=at(spendable),
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"
