"""Rehearse a peak on the local stack: the table scales (DynamoDB auto scaling, emulated by the meter)
and the writers follow (write rate ``auto``), with nobody touching anything.

``python -m loadtests.rehearsal`` starts the stack with ``--autoscale`` and ``--write-rate auto``,
replays the demo's story (quiet, a spike of ``--spike-factor`` x the starting capacity, quiet), waits
for the drain, checks that nothing was lost and that no second's writes (accepted, and offered:
accepted + throttled) exceeded the capacity in force in that second, prints what auto scaling did,
and draws capacity, write rate and backlog over time (README, "Rehearse a peak").

Time is compressed for auto scaling only (``--time-factor``: one emulated minute every 60/F real
seconds); the meter's per-second enforcement is real. The writers' W/C cache (5 s) would be five
emulated minutes at F = 60, so the rehearsal runs them with a 1 s cache (``--cache-seconds``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from nicelist.autoscaling import AutoScaling
from nicelist.demo.monitor import MeterReader
from nicelist.demo.report import DemoReport
from nicelist.demo.run import DemoOptions, run_buffered
from nicelist.local.stack import LocalStack, StackConfig
from writer.autorate import AutoRate, parse_write_rate


@dataclass(slots=True)
class Rehearsal:
    """What one rehearsal measured: the report, the meter's seconds, the backlog, auto scaling's activities."""

    report: DemoReport
    started: int
    seconds: list[dict[str, Any]]  # the meter's series: second, units, throttled_units, capacity
    backlog: dict[int, int | None]
    activities: list[dict[str, Any]] = field(default_factory=list)

    def over_capacity(self) -> list[dict[str, Any]]:
        """Seconds in which the table took more than the capacity in force then (burst credit would let it)."""
        return [s for s in self.seconds if s.get("capacity") is not None and s["units"] > s["capacity"]]

    def peak_capacity(self) -> int:
        return max([s["capacity"] or 0 for s in self.seconds] or [0])

    def summary(self) -> dict[str, Any]:
        return {
            "accepted": self.report.accepted,
            "lost": self.report.lost,
            "ok": self.report.ok and not self.over_capacity(),
            "seconds_over_capacity": len(self.over_capacity()),
            "throttled_units": sum(s["throttled_units"] for s in self.seconds),
            "starting_capacity": self.seconds[0]["capacity"] if self.seconds else None,
            "peak_capacity": self.peak_capacity(),
            "activities": self.activities,
        }

    def lines(self) -> list[str]:
        report = self.report
        offered = [s["units"] + s["throttled_units"] for s in self.seconds]
        ratios = [s["units"] / s["capacity"] for s in self.seconds if s.get("capacity")]
        lines = [
            f"updates accepted {report.accepted:,}, lost {report.lost:,}, drained in {report.seconds:.0f} s",
            f"capacity {self.seconds[0]['capacity'] if self.seconds else '?'} -> peak {self.peak_capacity()} WCU "
            f"({len(self.activities)} scaling activities)",
            f"write rate: peak {max(offered or [0])} WCU/s offered, highest second accepted "
            f"{max(ratios or [0]):.2f} x the capacity in force, {sum(s['throttled_units'] for s in self.seconds)} "
            "units throttled",
            f"seconds over capacity: {len(self.over_capacity())}",
        ]
        lines += [
            f"  +{a['real'] - self.started:5.0f} s  {a['from']:>4} -> {a['to']:>4} WCU  {a['cause']}"
            for a in self.activities
        ]
        return lines


def rehearse(config: StackConfig, options: DemoOptions, linger: float = 0.0) -> Rehearsal:
    """Run the story once on a stack built from ``config``, then watch ``linger`` seconds more (auto
    scaling scales in once the table has been quiet long enough); the stack is stopped on return."""
    with LocalStack(config) as stack:
        report, run, monitor = run_buffered(stack, options)
        samples = monitor.timeline.snapshot()
        time.sleep(linger)
        assert stack.provisioned is not None
        stats = MeterReader(stack.dynamodb_url, stack.provisioned.table_name).table_stats(
            int(time.time() - run.started)
        )
    started = int(run.started)
    seconds = [s for s in stats["series"] if s["second"] >= started]
    activities = stats["scaling_activities"]
    return Rehearsal(report, started, seconds, {s.second: s.backlog_updates for s in samples}, activities)


def draw(path: Path, rehearsal: Rehearsal, title: str) -> Path:
    """Capacity (step), the write rate offered and accepted, and the backlog, per second."""
    start = rehearsal.started
    t = [s["second"] - start for s in rehearsal.seconds]
    figure, axis = plt.subplots(figsize=(11, 4.6))
    axis.step(
        t, [s["capacity"] for s in rehearsal.seconds], where="post", color="#2da44e", lw=2, label="capacity (WCU)"
    )
    offered = [s["units"] + s["throttled_units"] for s in rehearsal.seconds]
    axis.plot(t, offered, color="#9aa5b1", lw=1.0, label="write rate offered (WCU/s)")
    axis.plot(t, [s["units"] for s in rehearsal.seconds], color="#1f6feb", lw=1.6, label="write rate accepted (WCU/s)")
    for activity in rehearsal.activities:
        axis.axvline(activity["real"] - start, color="#2da44e", alpha=0.25, lw=1)
    axis.set_xlabel("seconds")
    axis.set_ylabel("WCU per second")
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    axis.set_title(title, loc="left", fontsize=11)
    backlog = sorted((second - start, n) for second, n in rehearsal.backlog.items() if n is not None)
    right = axis.twinx()
    right.fill_between([x for x, _ in backlog], [n for _, n in backlog], color="#f0883e", alpha=0.25, step="post")
    right.set_ylabel("backlog (updates)", color="#bc4c00")
    right.set_ylim(bottom=0)
    lines, labels = axis.get_legend_handles_labels()
    lines.append(Rectangle((0, 0), 1, 1, color="#f0883e", alpha=0.25))
    labels.append("backlog in the queue (updates)")
    axis.legend(lines, labels, loc="upper right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m loadtests.rehearsal", description=__doc__.split("\n\n")[0])
    cli.add_argument("--updates", type=int, default=4000)
    cli.add_argument("--children", type=int, default=500)
    cli.add_argument("--spike-factor", type=float, default=10.0, help="spike write load, x the starting capacity")
    cli.add_argument("--capacity", type=int, default=40, help="the table's WCU at the start")
    cli.add_argument("--autoscale", type=AutoScaling.parse, default=AutoScaling.parse("40:200:50"))
    cli.add_argument("--time-factor", type=float, default=10.0)
    cli.add_argument("--write-rate", type=parse_write_rate, default=AutoRate(0.9))
    cli.add_argument("--linger", type=float, default=0.0, help="seconds to watch after the drain (scale in)")
    cli.add_argument("--cache-seconds", type=int, default=1, help="the writers' W/C/table cache")
    cli.add_argument("--burst-seconds", type=float, default=300.0)
    cli.add_argument("--concurrency", type=int, default=2)
    cli.add_argument("--chart", type=Path, default=Path("docs/rehearsal.png"))
    cli.add_argument("--run-dir", type=Path, default=Path("runs/rehearsal"))
    cli.add_argument("--json", action="store_true", help="print the summary as JSON")
    for name, default in (("moto", 4566), ("meter", 4567), ("api", 8080), ("control", 4599)):
        cli.add_argument(f"--{name}-port", type=int, default=default)
    return cli


def config_from(args: argparse.Namespace) -> StackConfig:
    rate = args.write_rate
    return StackConfig(
        capacity=args.capacity,
        write_rate=None if isinstance(rate, AutoRate) else rate.wcu,
        auto_write_rate=rate if isinstance(rate, AutoRate) else None,
        autoscale=args.autoscale,
        time_factor=args.time_factor,
        burst_seconds=args.burst_seconds,
        concurrency=args.concurrency,
        moto_port=args.moto_port,
        meter_port=args.meter_port,
        api_port=args.api_port,
        control_port=args.control_port,
        run_dir=args.run_dir,
        writer_environment=(("NICELIST_WRITE_RATE_CACHE_SECONDS", str(args.cache_seconds)),),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = config_from(args)
    options = DemoOptions(updates=args.updates, children=args.children, spike_factor=args.spike_factor, live=False)
    began = time.time()
    rehearsal = rehearse(config, options, args.linger)
    if args.json:
        draw(args.chart, rehearsal, "rehearsal")
        print(json.dumps(rehearsal.summary(), indent=2))
        return 0 if rehearsal.summary()["ok"] else 1
    print(f"rehearsal: autoscale {config.autoscale}, time factor {config.time_factor:g}, write rate {args.write_rate}")
    for line in rehearsal.lines():
        print(line)
    title = (
        f"write rate {args.write_rate}, auto scaling {config.autoscale} (x{config.time_factor:g} time): "
        f"{rehearsal.report.accepted:,} accepted, {rehearsal.report.lost} lost"
    )
    print(f"chart: {draw(args.chart, rehearsal, title)} ({time.time() - began:.0f} s in all)")
    ok = rehearsal.report.ok and not rehearsal.over_capacity()
    print("OK: drained with no manual step, never above capacity" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
