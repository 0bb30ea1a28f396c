"""How long the backlog takes to drain, and what that figure rests on (docs/operating.md, "Drain estimate").

    seconds = backlog messages x updates per message x write units per update / write rate

Every factor says where it came from, because an operator at 18:00 on 23 December decides on it:

- **updates per message**: given (``--updates-per-message``), else measured from the writers' own
  ``batch done`` log lines of the last minutes (their ``updates`` / ``messages``), read through
  ``nicelist.logs`` — CloudWatch Logs on a deployed stage, the run directory's ``writer.log`` locally,
  one code path. A message holds one update from ``SendMessage`` of a single update, up to thousands
  from the API's or the SDK's envelopes, so "1" can be wrong by three orders of magnitude; without
  any measurement the estimate says it assumed 1.
- **write units per update**: 1.375, what ``nicelist bench`` measures after coalescing (BENCHMARKS.md).
- **write rate**: the rate the table is seen taking (``measured``) when there is one above zero,
  else the budget W capped at the table's provisioned capacity (``budget``): what the writers may spend.

It assumes nothing new arrives, and that the rate holds (no new throttles, no retries).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeGuard

import click
from botocore.exceptions import BotoCoreError, ClientError

from nicelist.logs import LogLine, Source, merged, sources_for, where
from nicelist.options import AwsTarget
from nicelist.plan import DEFAULT_UNITS_PER_UPDATE

MIX_WINDOW = dt.timedelta(minutes=10)
MIX_REFRESH = dt.timedelta(seconds=30)  # --watch reads the logs at most this often
MIX_MAX_PAGES = 5  # FilterLogEvents pages per read: a sample is enough, the quota is shared
BATCH_DONE_PATTERN = '{ $.message = "batch done" }'  # applied by CloudWatch Logs: only these lines travel
# A batch holds at most 10,000 SQS messages (Lambda's largest SQS batch), and one message at most
# 1 MiB of updates, so fewer than 20,000 updates each: a line claiming more is not the writer's.
MAX_BATCH_MESSAGES = 10_000
MAX_UPDATES_PER_MESSAGE = 20_000
CLOCK_SKEW = dt.timedelta(minutes=1)


# ``nicelist status`` and ``nicelist tune`` both take it, for the same estimate.
updates_per_message_option = click.option(
    "--updates-per-message",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="For the drain estimate (default: measured from the writers' logs of the last 10 min, else 1).",
)


@dataclass(frozen=True, slots=True)
class MessageMix:
    """Updates per message and where that figure came from: ``given``, ``plan``, ``writer logs`` or
    ``assumed`` (then ``note`` says why nothing was measured)."""

    updates_per_message: float
    source: str
    messages_seen: int = 0
    note: str = ""

    def describe(self) -> str:
        if self.source == "writer logs":
            return f"{self.updates_per_message:,.1f} updates/message (writer logs, {self.messages_seen:,} messages)"
        if self.source == "given":
            return f"{self.updates_per_message:g} updates/message (--updates-per-message)"
        if self.source == "plan":
            return f"{self.updates_per_message:g} updates/message (the plan's assumption)"
        return f"{self.updates_per_message:g} update/message (assumed: {self.note or 'not measured'})"


class LoggedMix:
    """``updates / messages`` over the writers' ``batch done`` lines of the last ``MIX_WINDOW``, read
    incrementally (each read asks the sources only for lines they have not returned before) and at
    most every ``MIX_REFRESH``. Lines that no writer could have written are ignored: counts that are
    not integers, no messages, more than a batch can hold, or times in the future."""

    def __init__(self, sources: Sequence[Source], where: str) -> None:
        self._sources, self._where = sources, where
        self._batches: list[tuple[dt.datetime, int, int]] = []  # (at, messages, updates)
        self._read_at: dt.datetime | None = None
        self._error: str | None = None

    def read(self, now: dt.datetime) -> MessageMix:
        start = now - MIX_WINDOW
        if self._read_at is None or now - self._read_at >= MIX_REFRESH:
            self._read_at = now
            try:
                lines = merged(self._sources, start, "batch done")
                self._error = None
            except (ClientError, BotoCoreError) as error:  # AccessDenied, throttled: estimate without
                lines, self._error = [], f"writer logs unreadable: {error}"
            self._batches += [batch for line in lines if (batch := _batch(line, now)) is not None]
        self._batches = [batch for batch in self._batches if batch[0] >= start]
        messages = sum(batch[1] for batch in self._batches)
        if messages == 0:
            why = self._error or f"no batch done line in {self._where} in the last {MIX_WINDOW.seconds // 60} min"
            return MessageMix(1.0, "assumed", note=why)
        return MessageMix(sum(batch[2] for batch in self._batches) / messages, "writer logs", messages)


def _batch(line: LogLine, now: dt.datetime) -> tuple[dt.datetime, int, int] | None:
    messages, updates = line.fields.get("messages"), line.fields.get("updates")
    if line.message != "batch done" or not (_count(messages) and _count(updates)) or line.at > now + CLOCK_SKEW:
        return None
    if not 0 < messages <= MAX_BATCH_MESSAGES or updates > messages * MAX_UPDATES_PER_MESSAGE:
        return None
    return line.at, messages, updates


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def writer_mix(target: AwsTarget, run_dir: Path | None = None) -> LoggedMix:
    """The writers' batch lines where ``nicelist logs`` finds them: the run directory's writer.log, or
    the writer function's log group (filtered by CloudWatch, a few pages at most)."""
    sources = sources_for(target, run_dir, ["writer"], pattern=BATCH_DONE_PATTERN, max_pages=MIX_MAX_PAGES)
    return LoggedMix(sources, where(sources))


def message_mix(given: float | None, logged: LoggedMix | None, now: dt.datetime) -> MessageMix:
    if given is not None:
        return MessageMix(given, "given")
    if logged is None:
        return MessageMix(1.0, "assumed", note="not measured")
    return logged.read(now)


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
        if self.messages == 0:
            return "drain estimate: nothing to drain (the queue is empty)"
        if self.seconds is None:
            why = "no queue figure" if self.messages is None else "no write rate (W unset and nothing measured)"
            return f"drain estimate: unknown ({why})"
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
