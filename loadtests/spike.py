"""Spike test (not a CI test): start the local stack, replay 23 December with Locust, prove nothing was lost.

    .venv/bin/python -m loadtests.spike            # about 2-3 minutes on a 2-core machine
    .venv/bin/python -m loadtests.spike --help

The stack runs on its own ports (4700-4703 by default, never the ones of ``nicelist up``) with its
files in ``runs/spike``. Locust runs headless as a subprocess (so boto3 in this process never meets
Locust's gevent), records every update the API answered 202 for, and writes its CSV and HTML report.
Then this waits for the queue to drain and compares a full scan of the table (read straight from moto)
with what was accepted: the newest STATUS/LOCATION of every child and every track point. Exit status
1 if anything accepted is missing from the table, anything reached the DLQ, or any request got an
answer other than the expected one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from contract.updates import parse_update
from loadtests.shapes import SpikePlan
from nicelist.demo.verify import Expected, Verdict, compare, scan_table
from nicelist.local.stack import LocalStack, StackConfig

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"


@dataclass(frozen=True, slots=True)
class LocustFigures:
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests_per_second: float


@dataclass(frozen=True, slots=True)
class SpikeReport:
    locust: LocustFigures
    locust_exit: int
    accepted_updates: int
    accepted_field_sum: int
    requests_202: int
    unexpected_answers: int
    verdict: Verdict
    dlq_depth: int
    send_seconds: float
    drain_seconds: float
    writer: dict[str, Any]

    @property
    def ok(self) -> bool:
        return (
            self.locust_exit == 0
            and self.locust.failures == 0
            and self.unexpected_answers == 0
            and self.accepted_updates == self.accepted_field_sum
            and self.verdict.exact
            and self.dlq_depth == 0
        )


def read_locust_csv(path: Path) -> LocustFigures:
    """The ``Aggregated`` row of Locust's ``<prefix>_stats.csv``."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
    if not rows:
        raise RuntimeError(f"no Aggregated row in {path}")
    row = rows[0]
    return LocustFigures(
        requests=int(row["Request Count"]),
        failures=int(row["Failure Count"]),
        p50_ms=float(row["50%"]),
        p95_ms=float(row["95%"]),
        p99_ms=float(row["99%"]),
        requests_per_second=round(float(row["Requests/s"]), 1),
    )


def expected_from(path: Path) -> tuple[Expected, int]:
    """Every accepted update (JSON lines), parsed with the contract, folded into the expected table."""
    expected = Expected()
    count = 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            expected.add(parse_update(json.loads(line)))
            count += 1
    return expected, count


def run_locust(stack: LocalStack, plan: SpikePlan, args: argparse.Namespace, accepted: Path) -> int:
    run_dir: Path = args.run_dir
    env = {
        **os.environ,
        **plan.as_env(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        "NICELIST_API_KEY": stack.config.api_key,
        "NICELIST_SPIKE_ACCEPTED": str(accepted),
        "NICELIST_SPIKE_BATCH": str(args.batch),
        "NICELIST_SPIKE_CHILDREN": str(args.children),
        "NICELIST_SPIKE_PACING": str(args.pacing),
    }
    argv = [
        str(Path(sys.executable).with_name("locust")), "-f", str(LOCUSTFILE), "--headless",
        "--host", stack.api_url, "--csv", str(run_dir / "locust"), "--html", str(run_dir / "locust.html"),
        "--only-summary", "--loglevel", "WARNING",
        "--stop-timeout", "10",  # users finish their request when the shape shrinks or ends: no cut-off answers
    ]  # fmt: skip
    with (run_dir / "locust.log").open("wb") as log:
        done = subprocess.run(
            argv, check=False, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=plan.total_seconds + 60
        )
    return done.returncode


def queue_depths(stack: LocalStack) -> tuple[int, int]:
    """(messages visible + in flight on the queue, messages on the DLQ)."""
    assert stack.provisioned is not None
    sqs = stack.client("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    queue = sqs.get_queue_attributes(QueueUrl=stack.provisioned.queue_url, AttributeNames=names)["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=stack.provisioned.dlq_url, AttributeNames=names)["Attributes"]
    return sum(int(queue[n]) for n in names), sum(int(dlq[n]) for n in names)


def wait_for_drain(stack: LocalStack, timeout: float) -> float:
    """Seconds until the queue was empty with nothing in flight on two samples in a row."""
    started = time.monotonic()
    empty = 0
    while empty < 2:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the queue did not drain within {timeout:.0f}s")
        queued, _ = queue_depths(stack)
        in_flight = stack.runtime.stats().in_flight if stack.runtime else 0
        empty = empty + 1 if queued == 0 and in_flight == 0 else 0
        time.sleep(1.0)
    return time.monotonic() - started


def run(args: argparse.Namespace) -> SpikeReport:
    plan = SpikePlan(args.baseline_users, args.factor, args.quiet, args.spike, args.after)
    run_dir: Path = args.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    accepted = run_dir / "accepted.jsonl"
    accepted.unlink(missing_ok=True)
    config = StackConfig(
        moto_port=args.moto_port, meter_port=args.meter_port, api_port=args.api_port,
        control_port=args.control_port, run_dir=run_dir, capacity=args.capacity,
        concurrency=args.concurrency, api_workers=args.api_workers, api_threads=args.api_threads,
    )  # fmt: skip
    with LocalStack(config) as stack:
        print(f"stack up: API {stack.api_url}; Locust for {plan.total_seconds:.0f}s", flush=True)
        started = time.monotonic()
        exit_code = run_locust(stack, plan, args, accepted)
        send_seconds = time.monotonic() - started
        print(f"Locust done (exit {exit_code}) after {send_seconds:.0f}s; waiting for the drain", flush=True)
        drain_seconds = wait_for_drain(stack, args.drain_timeout)
        assert stack.provisioned is not None and stack.runtime is not None
        verdict_items = scan_table(stack.client("dynamodb"), stack.provisioned.table_name)
        _, dlq = queue_depths(stack)
        writer = stack.runtime.stats().as_dict()
    expected, count = expected_from(accepted)
    summary = json.loads(accepted.with_suffix(".summary.json").read_text(encoding="utf-8"))
    return SpikeReport(
        locust=read_locust_csv(run_dir / "locust_stats.csv"),
        locust_exit=exit_code,
        accepted_updates=count,
        accepted_field_sum=int(summary["accepted_field_sum"]),
        requests_202=int(summary["requests_202"]),
        unexpected_answers=int(summary["unexpected_count"]),
        verdict=compare(expected, verdict_items),
        dlq_depth=dlq,
        send_seconds=round(send_seconds, 1),
        drain_seconds=round(drain_seconds, 1),
        writer=writer,
    )


def render(report: SpikeReport) -> str:
    loc, v = report.locust, report.verdict
    lines = [
        f"requests            {loc.requests} ({loc.requests_per_second}/s overall), failures {loc.failures}, "
        f"unexpected answers {report.unexpected_answers}, locust exit {report.locust_exit}",
        f"latency ms          p50 {loc.p50_ms:g}  p95 {loc.p95_ms:g}  p99 {loc.p99_ms:g}",
        f"accepted updates    {report.accepted_updates} in {report.requests_202} requests answered 202 "
        f"(sum of 'accepted': {report.accepted_field_sum})",
        f"expected in table   {v.registers_expected} STATUS/LOCATION registers, {v.track_expected} track points",
        f"lost                {v.lost} (registers missing {v.registers_missing}, older than accepted "
        f"{v.registers_wrong}; track points missing {v.track_missing})",
        f"DLQ depth           {report.dlq_depth}",
        f"send / drain        {report.send_seconds:g}s Locust, then {report.drain_seconds:g}s to an empty queue",
        f"writer runtime      {report.writer['invocations']} invocations, {report.writer['records_deleted']} "
        f"messages deleted, {report.writer['records_failed']} failed and retried",
        f"verdict             {'OK: nothing lost' if report.ok else 'FAILED'}",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.spike", description=__doc__.splitlines()[0])
    ports = parser.add_argument_group("the stack (own ports; never 4566/4567/8080/4599)")
    ports.add_argument("--moto-port", type=int, default=4700)
    ports.add_argument("--meter-port", type=int, default=4701)
    ports.add_argument("--api-port", type=int, default=4702)
    ports.add_argument("--control-port", type=int, default=4703)
    ports.add_argument("--run-dir", type=Path, default=Path("runs/spike"), help="logs, Locust CSV/HTML, accepted")
    ports.add_argument("--capacity", type=int, default=800, help="the table's WCU/s, enforced by the meter")
    ports.add_argument("--concurrency", type=int, default=2, help="writer executions (reserved = maximum)")
    ports.add_argument("--api-workers", type=int, default=2)
    ports.add_argument("--api-threads", type=int, default=8)
    shape = parser.add_argument_group("the story (see loadtests/shapes.py)")
    shape.add_argument("--baseline-users", type=int, default=1)
    shape.add_argument("--factor", type=float, default=10.0, help="spike users = factor x baseline")
    shape.add_argument("--quiet", type=float, default=15.0, help="seconds of baseline before the spike")
    shape.add_argument("--spike", type=float, default=20.0, help="seconds of spike")
    shape.add_argument("--after", type=float, default=15.0, help="seconds of baseline after the spike")
    shape.add_argument("--batch", type=int, default=100, help="updates per array")
    shape.add_argument("--pacing", type=float, default=1.0, help="seconds between one user's requests")
    shape.add_argument("--children", type=int, default=2000)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps({**asdict(report), "lost": report.verdict.lost, "ok": report.ok}, indent=2))
    else:
        print(render(report))
        print(f"Locust report: {args.run_dir / 'locust.html'}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
