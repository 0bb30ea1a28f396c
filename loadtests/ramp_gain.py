"""What the live share gains while Lambda's pollers ramp up: the demo's story run twice on the local
stack, with the same poller ramp, the writers sharing W by C ("static") and by the executions running
now ("live", writer/share.py). A benchmark that prints figures, not a test:

    .venv/bin/python -u -m loadtests.ramp_gain   # C = 4, ramp 1:6 (+1 every 10 s), 60 WCU, batches of 5
    .venv/bin/python -u -m loadtests.ramp_gain --ramp 1:12 --concurrency 6 --updates 4000 --capacity 100

For each run: the first seconds of the spike (pollers the ramp allowed, invocations in flight, WCU/s
the meter counted, against W x running / C), then drain time, mean write rate, peak and throttles
side by side, and live ÷ static. Ports 4650-4653 by default (pass others if they are taken).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nicelist.demo.report import DemoReport
from nicelist.demo.run import DemoOptions, run_buffered
from nicelist.local.stack import LocalStack, StackConfig

MODES = ("static", "live")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ramp", default="1:6", help="--poller-ramp of both runs (default: %(default)s)")
    parser.add_argument("--ramp-minute", type=float, default=60.0, help="seconds a ramp minute lasts")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--capacity", type=int, default=60)
    parser.add_argument(
        "--batch-size", type=int, default=5, help="small enough for a batch to fit its deadline at W / C"
    )
    parser.add_argument("--seconds-shown", type=int, default=20, help="seconds of the spike shown per run")
    parser.add_argument("--base-port", type=int, default=4650, help="moto, meter, control; the API at +3500")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/ramp-gain"))
    return parser.parse_args(argv)


def run_once(args: argparse.Namespace, mode: str) -> tuple[DemoReport, list[dict[str, int]], int]:
    config = StackConfig(
        moto_port=args.base_port,
        meter_port=args.base_port + 1,
        control_port=args.base_port + 2,
        api_port=args.base_port + 3500,
        capacity=args.capacity,
        burst_seconds=0.0,  # strict: no second over capacity, so the rate is what the writers sent
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        poller_ramp=args.ramp,
        poller_ramp_minute=args.ramp_minute,
        run_dir=args.run_dir / mode,
        writer_environment=(("NICELIST_SHARE_MODE", mode),),
    )
    with LocalStack(config) as stack:
        report, run, _ = run_buffered(stack, DemoOptions(updates=args.updates, live=False))
        assert stack.runtime is not None
        timeline = stack.runtime.timeline()
    return report, timeline, run.spike_start


def first_seconds(
    report: DemoReport, timeline: list[dict[str, int]], spike_start: int, shown: int, concurrency: int
) -> list[str]:
    units = {row["second"]: row["units"] for row in report.series.get("meter", [])}
    ramp = {row["second"]: row for row in timeline}
    budget = report.rates.budget
    lines = ["  s  pollers  in flight  WCU/s  W x in flight / C"]
    for second in range(spike_start, spike_start + shown):
        row: dict[str, Any] = ramp.get(second, {"pollers": 0, "in_flight": 0})
        static = budget * row["in_flight"] / concurrency
        offset, written = second - spike_start, units.get(second, 0)
        lines.append(f"{offset:3d}  {row['pollers']:7d}  {row['in_flight']:9d}  {written:5d}  {static:8.1f}")
    return lines


def seconds_to_share(report: DemoReport, spike_start: int, share: float) -> int:
    """Seconds from the spike's start until ``share`` of its write units had reached the table (a drain
    figure a single late straggler, a message handed back with a long backoff, cannot move)."""
    series = sorted(
        (row["second"], row["units"]) for row in report.series.get("meter", []) if row["second"] >= spike_start
    )
    total, done = sum(units for _, units in series), 0
    for second, units in series:
        done += units
        if done >= share * total:
            return int(second) - spike_start + 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, DemoReport] = {}
    to_90: dict[str, int] = {}
    for mode in MODES:
        report, timeline, spike_start = run_once(args, mode)
        results[mode] = report
        to_90[mode] = seconds_to_share(report, spike_start, 0.9)
        print(f"\n{mode}: the first {args.seconds_shown} s of the spike (ramp {args.ramp}, C = {args.concurrency})")
        print("\n".join(first_seconds(report, timeline, spike_start, args.seconds_shown, args.concurrency)))
    static, live = results["static"].rates, results["live"].rates
    rows = [
        ("lost", results["static"].lost, results["live"].lost),
        ("drain time, s", round(static.drain_seconds, 1), round(live.drain_seconds, 1)),
        ("drain ÷ ideal", round(static.drain_ratio, 3), round(live.drain_ratio, 3)),
        ("90 % of units written, s", to_90["static"], to_90["live"]),
        ("mean write rate, WCU/s", round(static.mean_units_per_second, 1), round(live.mean_units_per_second, 1)),
        ("peak WCU/s", static.peak_units_per_second, live.peak_units_per_second),
        ("peak offered WCU/s", static.peak_offered_units_per_second, live.peak_offered_units_per_second),
        ("throttled units", static.throttled_units, live.throttled_units),
        ("units written", static.total_units, live.total_units),
    ]
    print(f"\nW = {static.budget:g} WCU/s, capacity {static.capacity:g}, strict meter; ramp {args.ramp}")
    print(f"{'':26}{'static':>10}{'live':>10}")
    for label, before, after in rows:
        print(f"{label:26}{before!s:>10}{after!s:>10}")
    if static.drain_seconds and static.mean_units_per_second and to_90["static"]:
        print(f"live ÷ static: drain time {live.drain_seconds / static.drain_seconds:.3f}, "
              f"90 % written {to_90['live'] / to_90['static']:.3f}, "
              f"mean write rate {live.mean_units_per_second / static.mean_units_per_second:.3f}")  # fmt: skip
    return 0 if all(r.ok for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
