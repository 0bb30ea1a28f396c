"""What arrives: a backlog and a piecewise-constant rate of updates per second, and how producers pack
them into SQS messages.

A ``Profile`` is what ``nicelist plan`` has always read (``--backlog``, ``--arrivals CSV``); the
23 December day is one built in (``december_23``): 1.8 billion updates over the day, shaped by the
hour in the table's region, quiet at night, the surge in the evening.
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Relative weight of each hour of 23 December (local time of the table's region): a working day that
# swells from mid-afternoon to a peak at 18:00-19:00 and ebbs; the list closes at 23:00 (the last hour
# is the writers' alone, so "written by midnight" can be met at all). An assumption, stated
# in the README's "Plan a real peak"; a measured day replaces it with --arrivals CSV.
DECEMBER_23_HOURLY = (
    0.3, 0.2, 0.2, 0.2, 0.2, 0.3, 0.5, 0.8, 1.0, 1.0, 1.0, 1.0,
    1.1, 1.1, 1.2, 1.5, 2.2, 3.2, 4.0, 3.6, 2.4, 1.2, 0.5, 0.0,
)  # fmt: skip
DECEMBER_23_UPDATES = 1_800_000_000


class ArrivalError(ValueError):
    """A profile that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Profile:
    """Updates to write: ``backlog`` at time 0, then ``rates[i]`` updates/s from ``starts[i]`` to the next
    start (the last segment ends at ``end``)."""

    backlog: float = 0.0
    starts: tuple[float, ...] = ()
    rates: tuple[float, ...] = ()
    end: float = 0.0
    per_message: tuple[float, ...] = ()  # updates per message in each segment; () = the writer's figure

    def packing(self, time: float) -> float | None:
        """Updates per message of what arrives at ``time``, when the profile says."""
        if not self.per_message:
            return None
        index = bisect.bisect_right(self.starts, time) - 1
        return self.per_message[max(0, min(index, len(self.per_message) - 1))]

    def arrived_before(self, time: float) -> float:
        """A(time⁻): the backlog counts from time 0 on, arrivals up to ``time``."""
        total = self.backlog if time > 0 else 0.0
        stops = (*self.starts[1:], self.end) if self.starts else ()
        for start, stop, rate in zip(self.starts, stops, self.rates, strict=True):
            total += rate * max(0.0, min(time, stop) - start)
        return total

    @property
    def total(self) -> float:
        return self.arrived_before(math.inf)

    @property
    def breakpoints(self) -> list[float]:
        return sorted({0.0, *self.starts, self.end})

    @property
    def last_arrival(self) -> float:
        """When the last update arrives: the end of the last segment with a rate above 0."""
        stops = (*self.starts[1:], self.end)
        return max((stop for stop, rate in zip(stops, self.rates, strict=False) if rate > 0), default=0.0)

    @property
    def peak_rate(self) -> float:
        return max(self.rates, default=0.0)

    def scaled(self, factor: float) -> Profile:
        """The same shape, ``factor`` times the updates (the "spike twice as big" question)."""
        rates = tuple(r * factor for r in self.rates)
        return Profile(self.backlog * factor, self.starts, rates, self.end, self.per_message)


def december_23(total: float = DECEMBER_23_UPDATES, hourly: tuple[float, ...] = DECEMBER_23_HOURLY) -> Profile:
    """``total`` updates over 24 hours from 00:00, hour by hour as ``hourly`` weighs them."""
    weight = sum(hourly)
    rates = tuple(total * w / weight / 3600 for w in hourly)
    return Profile(0.0, tuple(3600.0 * h for h in range(len(hourly))), rates, 3600.0 * len(hourly))


def from_counts(per_second: dict[int, int], start: int, packing: Callable[[int], float] | None = None) -> Profile:
    """A profile from counts per epoch second (what a local run accepted), time 0 at ``start``;
    ``packing(second)``: the updates per message of that second."""
    if not per_second:
        return Profile()
    seconds = range(start, max(per_second) + 1)
    return Profile(
        0.0,
        tuple(float(s - start) for s in seconds),
        tuple(float(per_second.get(s, 0)) for s in seconds),
        float(len(seconds)),
        tuple(packing(s) for s in seconds) if packing else (),
    )


def read_arrivals(path: Path, backlog: float = 0.0) -> Profile:
    """CSV rows ``seconds_from_now,updates_per_second`` (a header row is skipped); each rate holds until
    the next row, and the last row, with rate 0, marks the end."""
    rows = []
    with path.open(newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip().startswith("#"):
                continue
            try:
                rows.append((float(row[0]), float(row[1])))
            except (ValueError, IndexError):
                if number == 1:
                    continue
                raise ArrivalError(f"{path}:{number}: expected seconds,updates_per_second") from None
    starts = [start for start, _ in rows]
    if len(rows) < 2 or rows[-1][1] != 0 or starts != sorted(set(starts)) or starts[0] < 0:
        raise ArrivalError(f"{path}: need increasing offsets from 0 on, and a last row with rate 0 (the end)")
    if any(not math.isfinite(rate) or rate < 0 for _, rate in rows) or not all(map(math.isfinite, starts)):
        raise ArrivalError(f"{path}: rates and offsets must be finite, rates >= 0")
    return Profile(backlog, tuple(starts[:-1]), tuple(rate for _, rate in rows[:-1]), starts[-1])
