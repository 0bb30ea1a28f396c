"""The spike's report: Locust's figures, the reconcile, the meter's view of the table, and the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loadtests.locust_run import LocustRun
from loadtests.verdict import Facts
from nicelist.demo.report import RateFigures
from nicelist.demo.verify import Verdict


@dataclass(slots=True)
class SpikeReport:
    shape: str
    target: str
    reconciled_by: str  # "scan" (local) or "query" (one per child)
    locust: LocustRun
    acknowledged: int
    verdict: Verdict
    facts: Facts
    rates: RateFigures | None
    drain_seconds: float | None
    chart: Path | None = None
    dropped: tuple[str, str] | None = None
    problems: list[str] = field(default_factory=list)
    series: list[dict[str, int]] = field(default_factory=list)  # the meter's, per second

    def as_dict(self) -> dict[str, Any]:
        rates = self.rates
        return {
            "shape": self.shape,
            "target": self.target,
            "reconciled_by": self.reconciled_by,
            "ok": not self.problems,
            "problems": self.problems,
            "locust": {**asdict(self.locust.figures), "exit": self.locust.exit_code, "seconds": self.locust.seconds},
            "record": {k: v for k, v in self.locust.summary.items() if k != "acknowledged_per_second"},
            "acknowledged": self.acknowledged,
            "verdict": {**asdict(self.verdict), "lost": self.verdict.lost},
            "rates": None
            if rates is None
            else {
                **asdict(rates),
                "peak_ratio": round(rates.peak_ratio, 3),
                "drain_ratio": round(rates.drain_ratio, 3),
                "throttled_share": round(throttled_share(rates), 4),
                "writers_peak": self.facts.writers_peak,
                "writers_peak_ratio": round(self.facts.peak_ratio or 0.0, 3),
            },
            "queue_drained_after_seconds": self.drain_seconds,
            "dropped_by_test_hook": self.dropped,
            "chart": str(self.chart) if self.chart else None,
            "meter_series": self.series,
        }


def throttled_share(rates: RateFigures) -> float:
    """Throttled units over every unit the writers sent (accepted + throttled)."""
    offered = rates.total_units + rates.throttled_units
    return rates.throttled_units / offered if offered else 0.0


def _rates_lines(report: SpikeReport) -> list[str]:
    rates, facts = report.rates, report.facts
    if rates is None:
        return ["table               no meter watched the table (--meter-url): peak and drain not judged"]
    return [
        f"table               capacity {rates.capacity:g} WCU/s, writers' budget {rates.budget:g} WCU/s",
        f"offered at peak     {max(report.locust.acknowledged_per_second.values(), default=0)} updates/s acknowledged",
        f"write units         {rates.total_units} accepted, {rates.throttled_units} throttled "
        f"({throttled_share(rates):.1%} of those sent)",
        f"peak (meter)        accepted {rates.peak_units_per_second} WCU/s = {rates.peak_ratio:.2f} x capacity; "
        f"writers sent {facts.writers_peak or 0:.1f} WCU/s = {facts.peak_ratio or 0:.2f} x capacity",
        f"drain (meter)       {rates.drain_seconds:.0f} s from the spike's start to the last write = "
        f"{rates.drain_ratio:.3f} x ideal {rates.ideal_drain_seconds:.1f} s",
    ]


def render(report: SpikeReport, run_dir: Path) -> str:
    figures, verdict, summary = report.locust.figures, report.verdict, report.locust.summary
    drain = "did not drain" if report.drain_seconds is None else f"{report.drain_seconds:.0f}s to an empty queue"
    lines = [
        f"shape               {report.shape} on the {report.target}",
        f"requests            {figures.requests} ({figures.requests_per_second}/s overall), failures "
        f"{figures.failures}, unexpected answers {report.locust.unexpected}, locust exit {report.locust.exit_code}",
        f"latency ms          p50 {figures.p50_ms:g}  p95 {figures.p95_ms:g}  p99 {figures.p99_ms:g}",
        f"acknowledged        {report.acknowledged} updates: {summary.get('accepted_field_sum', 0)} by the API "
        f"in {summary.get('requests_202', 0)} answers 202, {summary.get('sdk_confirmed', 0)} confirmed by SQS "
        f"to the SDK ({summary.get('sdk_unsent', 0)} not sent)",
        f"expected in table   {verdict.registers_expected} STATUS/LOCATION registers, "
        f"{verdict.track_expected} track points",
        f"lost                {verdict.lost} by {report.reconciled_by} (registers missing {verdict.registers_missing}, "
        f"not the newest {verdict.registers_wrong}; track points missing {verdict.track_missing})",
        f"DLQ depth           {report.facts.dlq_depth}",
        f"send / drain        {report.locust.seconds:g}s Locust, then {drain}",
        *_rates_lines(report),
    ]
    if report.dropped:
        child, aspect = report.dropped
        lines.append(f"test hook           deleted the {aspect} register of {child} before reconciling")
    lines += [f"FAILED              {problem}" for problem in report.problems] or ["verdict             OK"]
    lines += [
        f"Locust report       {report.locust.html}",
        f"Locust CSVs         {report.locust.csv_prefix}_stats.csv, _stats_history.csv, _failures.csv",
        f"smoothing chart     {report.chart or 'none (no meter)'}",
        f"figures (JSON)      {run_dir / 'spike.json'}",
    ]
    return "\n".join(lines)
