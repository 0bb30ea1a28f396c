"""The demo's report: what was sent, what the table shows, how the table's write rate behaved."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from nicelist.demo.verify import Verdict


@dataclass(frozen=True, slots=True)
class RateFigures:
    """The table's write rate as the meter saw it, per epoch second."""

    capacity: float
    budget: float
    total_units: int
    throttled_units: int
    throttle_events: int
    peak_units_per_second: int
    mean_units_per_second: float  # over the seconds the table was being written
    drain_seconds: float  # from the spike's start until the last write
    ideal_drain_seconds: float  # units written in that window / capacity
    peak_offered_units_per_second: int = 0  # accepted + throttled in one second: what the writers produced
    burst_seconds: float = 0.0  # the meter's burst credit (DynamoDB's 300 s; 0: strict)

    @property
    def peak_ratio(self) -> float:
        return self.peak_units_per_second / self.capacity if self.capacity else 0.0

    @property
    def offered_ratio(self) -> float:
        """The writers' peak one-second rate, throttled units included, as a share of capacity."""
        return self.peak_offered_units_per_second / self.capacity if self.capacity else 0.0

    @property
    def meter_mode(self) -> str:
        if self.burst_seconds:
            return f"burst credit {self.burst_seconds:g} s (as DynamoDB)"
        return "strict: no burst credit (--burst-seconds 0)"

    @property
    def drain_ratio(self) -> float:
        return self.drain_seconds / self.ideal_drain_seconds if self.ideal_drain_seconds else 0.0


@dataclass(slots=True)
class DemoReport:
    mode: str  # "buffered" (through SQS) or "direct" (the 2017 way)
    updates: int
    sent: int
    accepted: int
    rejected_at_edge: int
    not_accepted: int  # refused after retries (the producer was told so)
    retried: int
    injected_malformed: int
    dead_lettered: int
    verdict: Verdict
    rates: RateFigures
    seconds: float
    chart: str | None = None
    series: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        """Observations the table does not show. Directly written updates that failed after the SDK's
        retries count too: a 2017 producer had nowhere to keep them. Through the API, a refusal is a
        4xx/503 the SDK keeps and retries, so it is not a loss of the system's making."""
        failed = self.not_accepted if self.mode == "direct" else 0
        return self.verdict.lost + failed

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.dead_lettered == self.injected_malformed

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lost"] = self.lost
        data["ok"] = self.ok
        data["rates"]["peak_ratio"] = round(self.rates.peak_ratio, 3)
        data["rates"]["offered_ratio"] = round(self.rates.offered_ratio, 3)
        data["rates"]["drain_ratio"] = round(self.rates.drain_ratio, 3)
        data.pop("series")
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) rows for the terminal."""
        verdict, rates = self.verdict, self.rates
        rows = [
            ("mode", self.mode),
            ("updates sent", f"{self.sent:,}"),
            ("written to the table" if self.mode == "direct" else "accepted (202)", f"{self.accepted:,}"),
            ("rejected at the edge (4xx)", f"{self.rejected_at_edge:,}"),
            ("failed after retries" if self.mode == "direct" else "refused after retries", f"{self.not_accepted:,}"),
            ("malformed, injected into SQS", f"{self.injected_malformed:,} messages"),
            ("dead-lettered", f"{self.dead_lettered:,} messages"),
            ("state registers correct", f"{verdict.registers_correct:,} / {verdict.registers_expected:,}"),
            (
                "track points present",
                f"{verdict.track_expected - verdict.track_missing:,} / {verdict.track_expected:,}",
            ),
            ("lost", f"{self.lost:,}"),
            ("table capacity / writers' budget", f"{rates.capacity:g} / {rates.budget:g} WCU/s"),
            (
                "write units reaching the table",
                f"{rates.total_units:,} (throttled: {rates.throttled_units:,})",
            ),
            ("meter", rates.meter_mode),
            (
                "peak one-second write rate",
                f"{rates.peak_units_per_second} WCU/s = {rates.peak_ratio:.2f} x capacity",
            ),
            (
                "peak one-second offered (+ throttled)",
                f"{rates.peak_offered_units_per_second} WCU/s = {rates.offered_ratio:.2f} x capacity",
            ),
            ("mean write rate while writing", f"{rates.mean_units_per_second:.1f} WCU/s"),
            (
                "drain time (spike start → last write)",
                f"{rates.drain_seconds:.0f} s = {rates.drain_ratio:.3f} x ideal {rates.ideal_drain_seconds:.1f} s",
            ),
            ("wall time", f"{self.seconds:.0f} s"),
        ]
        if self.chart:
            rows.append(("chart", self.chart))
        return rows


def rate_figures(
    series: list[dict[str, int]], capacity: float, budget: float, spike_start: int, burst_seconds: float = 0.0
) -> RateFigures:
    """Figures from the meter's per-second series (epoch seconds, zeros included).

    With burst credit the meter may accept more than the capacity in a second; the peak the writers
    offered (accepted + throttled units) is reported beside the accepted one either way.
    """
    writing = [s for s in series if s["units"] > 0]
    total = sum(s["units"] for s in series)
    if not writing:
        return RateFigures(capacity, budget, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0, burst_seconds)
    last = writing[-1]["second"]
    window = [s for s in series if spike_start <= s["second"] <= last]
    window_units = sum(s["units"] for s in window)
    return RateFigures(
        capacity=capacity,
        budget=budget,
        total_units=total,
        throttled_units=sum(s["throttled_units"] for s in series),
        throttle_events=sum(s["throttle_events"] for s in series),
        peak_units_per_second=max(s["units"] for s in series),
        mean_units_per_second=total / len(writing),
        drain_seconds=float(last - spike_start + 1),
        ideal_drain_seconds=window_units / capacity if capacity else 0.0,
        peak_offered_units_per_second=max(s["units"] + s["throttled_units"] for s in series),
        burst_seconds=burst_seconds,
    )
