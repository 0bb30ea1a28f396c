"""Spike test that fails loudly: run a load shape, wait for the drain, reconcile every acknowledged update.

    .venv/bin/python -m loadtests.spike --shape surge      # or burst, sawtooth; about 2 minutes on 2 cores
    .venv/bin/python -m loadtests.spike --host https://... --api-key ... --stage prod --shape burst
    .venv/bin/python -m loadtests.spike --help

Without ``--host`` it starts a local stack of its own (ports 4700-4703 by default, never those of
``nicelist up``; files in ``--run-dir``) with a small table (100 WCU/s), so each shape offers several
times its capacity (the surge about 5x, the burst as fast as Locust can send) and the smoothing is what
is tested. With ``--host``/``--api-key``/``--stage`` it
loads that stage (boto3's chain; ``--endpoint-url`` for a moto or a running ``nicelist up``) and
reads the table back with one ``Query`` per child sent, never a scan.

Locust runs headless as a subprocess (so boto3 here never meets Locust's gevent): HTTP users POST
to the API, SDK users send to SQS; it writes its HTML report and CSVs to the run directory and every
acknowledged update to ``accepted.jsonl``. Then this waits for the queue to drain, reads the meter
(peak, throttled share, drain time against ideal: ``nicelist.demo.report``), draws the smoothing chart
(``nicelist.demo.chart``), reconciles, and exits 1 with one line per problem (``loadtests/verdict.py``):
any loss, the DLQ, unexpected answers, the failure ratio or p95 over ``--max-failure-ratio`` /
``--max-p95-ms``, or the writers' peak (their rate over ``--peak-window`` seconds, accepted and
throttled units) over ``--max-peak-ratio`` x capacity. The local meter keeps DynamoDB's 300 s of
burst credit (``--burst-seconds``), so the jitter of admission is absorbed as a real table absorbs it
and a throttle means the writers really sent too much.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from loadtests.locust_run import LocustError, LocustRun, run_locust
from loadtests.reconcile import Acknowledged
from loadtests.shapes import BurstPlan, SawtoothPlan, SurgePlan
from loadtests.spike_args import parse_args
from loadtests.spike_report import SpikeReport, render
from loadtests.targets import Target, TargetError, drop_one_register, local_target, stage_target
from loadtests.verdict import Facts, Thresholds, problems, writers_peak
from nicelist.demo.chart import draw, series_for_chart
from nicelist.demo.monitor import MeterReader, Monitor
from nicelist.demo.report import RateFigures, rate_figures
from nicelist.local.processes import StartupError
from nicelist.local.stack import StackConfig
from nicelist.options import AwsTarget

Plan = SurgePlan | BurstPlan | SawtoothPlan


def plan_of(args: argparse.Namespace) -> Plan:
    if args.shape == "burst":
        return BurstPlan(args.burst_updates, args.burst_users, args.burst_max_seconds)
    if args.shape == "sawtooth":
        return SawtoothPlan(args.saw_peak_users, args.saw_tooth_seconds, args.saw_teeth)
    return SurgePlan(args.baseline_users, args.factor, args.quiet, args.spike, args.after)


def spike_offset(plan: Plan) -> float:
    """Seconds from Locust's start to the load above the baseline (where the drain time starts)."""
    return plan.quiet_seconds if isinstance(plan, SurgePlan) else 0.0


def wait_for_drain(target: Target, monitor: Monitor, timeout: float) -> float | None:
    """Seconds until the queue was empty with no writer running on two samples (None: timed out)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if monitor.drained() and target.in_flight() == 0:
            return time.monotonic() - started
        time.sleep(1.0)
    return None


def meter_figures(target: Target, started: float, spike_start: int) -> tuple[RateFigures | None, list[dict[str, int]]]:
    if target.meter_url is None:
        return None, []
    reader = MeterReader(target.meter_url, target.table)
    stats = reader.table_stats(int(time.time() - started) + 5)
    capacity, series = stats.get("capacity"), list(stats.get("series", []))
    if capacity is None:
        return None, series
    return rate_figures(series, float(capacity), target.budget or 0.0, spike_start), series


def chart(
    args: argparse.Namespace, run: LocustRun, monitor: Monitor, series: list[dict[str, int]], capacity: float
) -> Path:
    samples = monitor.timeline.snapshot()
    end = max([int(time.time()), *(s["second"] for s in series if s["units"])])
    data = series_for_chart(
        int(run.started), end, run.acknowledged_per_second, series, {s.second: s.queued for s in samples}
    )
    title = f"spike: {args.shape} (table {capacity:g} WCU/s)"
    path: Path = draw(args.run_dir / f"smoothing-{args.shape}.png", [(title, data)], capacity)
    return path


def run(args: argparse.Namespace, target: Target) -> SpikeReport:
    plan = plan_of(args)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    monitor = Monitor(target.sqs, target.queue_url, target.dlq_url)
    monitor.start()
    try:
        print(
            f"{target.kind}: API {target.api_url}; shape {plan.name}, at most {plan.max_seconds:.0f}s",
            file=sys.stderr,
            flush=True,
        )
        locust = run_locust(args, plan, target)
        print(
            f"Locust done (exit {locust.exit_code}) after {locust.seconds:.0f}s; waiting for the drain",
            file=sys.stderr,
            flush=True,
        )
        drain = wait_for_drain(target, monitor, args.drain_timeout)
    finally:
        monitor.stop()
    acknowledged = Acknowledged.read(locust.accepted_path)
    dropped = drop_one_register(target, acknowledged) if args.drop_update else None
    how = args.reconcile or ("scan" if target.scan_allowed else "query")
    verdict = target.reconcile(acknowledged, how)
    # The shape's clock starts when Locust's runner does, seconds after the process (about the first ack).
    first = min(locust.acknowledged_per_second, default=int(locust.started))
    spike_start = int(first + spike_offset(plan))
    rates, series = meter_figures(target, locust.started, spike_start)
    latest = monitor.sample()
    png = chart(args, locust, monitor, series, rates.capacity) if rates else None
    facts = Facts(
        acknowledged=acknowledged.count,
        lost=verdict.lost,
        requests=locust.figures.requests,
        failures=locust.figures.failures,
        p95_ms=locust.figures.p95_ms,
        unexpected_answers=locust.unexpected,
        accepted_mismatch=locust.accepted_mismatch,
        dlq_depth=latest.dlq,
        drained=drain is not None,
        locust_exit=locust.exit_code,
        capacity=rates.capacity if rates else None,
        writers_peak=writers_peak(series, args.peak_window) if rates else None,
        drain_ratio=rates.drain_ratio if rates else None,
    )
    return SpikeReport(
        shape=plan.name,
        target=target.kind,
        reconciled_by=how,
        locust=locust,
        acknowledged=acknowledged.count,
        verdict=verdict,
        facts=facts,
        rates=rates,
        drain_seconds=drain,
        chart=png,
        dropped=dropped,
        problems=problems(facts, thresholds_of(args)),
        series=series,
    )


def thresholds_of(args: argparse.Namespace) -> Thresholds:
    return Thresholds(args.max_failure_ratio, args.max_p95_ms, args.max_peak_ratio, args.max_drain_ratio)


def stack_config(args: argparse.Namespace) -> StackConfig:
    environment = tuple(tuple(item.split("=", 1)) for item in args.writer_env)
    return StackConfig(
        moto_port=args.moto_port, meter_port=args.meter_port, api_port=args.api_port,
        control_port=args.control_port, run_dir=args.run_dir, capacity=args.capacity,
        write_rate=args.write_rate, burst_seconds=args.burst_seconds, concurrency=args.concurrency,
        api_workers=args.api_workers, api_threads=args.api_threads,
        writer_environment=environment,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """0: nothing wrong; 1: the run found problems (one line each); 2: it could not run at all."""
    args = parse_args(argv)
    try:
        if args.host:
            aws = AwsTarget(args.stage, args.region, args.profile, args.endpoint_url)
            report = run(args, stage_target(aws, args.host, args.api_key, args.meter_url))
        else:
            with local_target(stack_config(args)) as target:
                report = run(args, target)
    except (TargetError, StartupError, LocustError, BotoCoreError, ClientError) as error:
        print(f"spike: cannot run: {error}", file=sys.stderr)
        return 2
    (args.run_dir / "spike.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report.as_dict(), indent=2) if args.json else render(report, args.run_dir))
    return 0 if not report.problems else 1


if __name__ == "__main__":
    sys.exit(main())
