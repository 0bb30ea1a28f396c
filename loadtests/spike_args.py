"""The spike runner's options (``python -m loadtests.spike --help``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from loadtests.shapes import SHAPES, BurstPlan, SawtoothPlan, SurgePlan


def _name_value(text: str) -> str:
    if "=" not in text or not text.split("=", 1)[0]:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return text


def _shape_options(parser: argparse.ArgumentParser) -> None:
    surge, burst, saw = SurgePlan(), BurstPlan(), SawtoothPlan()
    shape = parser.add_argument_group("the shape (loadtests/shapes.py)")
    shape.add_argument("--shape", choices=list(SHAPES), default="surge")
    shape.add_argument("--baseline-users", type=int, default=surge.baseline_users, help="surge: users when quiet")
    shape.add_argument("--factor", type=float, default=surge.factor, help="surge: spike users = factor x baseline")
    shape.add_argument("--quiet", type=float, default=surge.quiet_seconds, help="surge: seconds before the spike")
    shape.add_argument("--spike", type=float, default=surge.spike_seconds, help="surge: seconds of spike")
    shape.add_argument("--after", type=float, default=surge.after_seconds, help="surge: seconds after the spike")
    shape.add_argument("--burst-updates", type=int, default=burst.updates, help="burst: updates to send")
    shape.add_argument("--burst-users", type=int, default=burst.users, help="burst: users sending unpaced")
    shape.add_argument("--burst-max-seconds", type=float, default=burst.limit_seconds, help="burst: backstop")
    shape.add_argument("--saw-peak-users", type=int, default=saw.peak_users, help="sawtooth: users at each peak")
    shape.add_argument("--saw-tooth-seconds", type=float, default=saw.tooth_seconds, help="sawtooth: one ramp")
    shape.add_argument("--saw-teeth", type=int, default=saw.teeth, help="sawtooth: ramps")
    shape.add_argument("--batch", type=int, default=50, help="updates per array (HTTP) or per flush (SDK)")
    shape.add_argument("--pacing", type=float, default=1.0, help="seconds between one user's requests (not burst)")
    shape.add_argument("--children", type=int, default=2000)
    shape.add_argument("--http-weight", type=int, default=3, help="HTTP users' weight (0: none)")
    shape.add_argument("--sdk-weight", type=int, default=1, help="SDK users' weight (0: none)")


def _stack_options(parser: argparse.ArgumentParser) -> None:
    stack = parser.add_argument_group("the local stack (own ports; never 4566/4567/8080/4599)")
    stack.add_argument("--moto-port", type=int, default=4700)
    stack.add_argument("--meter-port", type=int, default=4701)
    stack.add_argument("--api-port", type=int, default=4702)
    stack.add_argument("--control-port", type=int, default=4703)
    stack.add_argument("--capacity", type=int, default=100, help="the table's WCU/s, enforced by the meter")
    stack.add_argument("--write-rate", type=float, help="the writers' budget W (default 0.97 x capacity)")
    stack.add_argument(
        "--burst-seconds", type=float, default=300.0,
        help="the meter's burst credit in seconds (DynamoDB keeps 300): absorbs admission jitter, as a real table does",
    )  # fmt: skip
    stack.add_argument("--concurrency", type=int, default=2, help="writer executions (reserved = maximum)")
    stack.add_argument("--api-workers", type=int, default=2)
    stack.add_argument("--api-threads", type=int, default=8)
    stack.add_argument(
        "--writer-env", type=_name_value, action="append", default=[], metavar="NAME=VALUE",
        help="an extra variable for the writer executions (repeatable)",
    )  # fmt: skip
    stack.add_argument(
        "--drop-update", action="store_true",
        help="test hook: delete one acknowledged register before reconciling (the run must fail)",
    )  # fmt: skip


def _stage_options(parser: argparse.ArgumentParser) -> None:
    stage = parser.add_argument_group("a deployed stage (instead of the local stack)")
    stage.add_argument("--host", help="the stage's enqueue API base URL; without it a local stack is started")
    stage.add_argument("--api-key", default="local-dev-key")
    stage.add_argument("--stage", default="local")
    stage.add_argument("--region")
    stage.add_argument("--profile")
    stage.add_argument("--endpoint-url", help="AWS endpoint (a moto server, a running `nicelist up`)")
    stage.add_argument("--meter-url", help="a meter in front of the stage's table, to judge peak and drain")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.spike",
        description="Run a load shape, wait for the drain, reconcile every acknowledged update; exit 1 on any problem.",
    )
    _shape_options(parser)
    _stack_options(parser)
    _stage_options(parser)
    verdict = parser.add_argument_group("pass/fail (loadtests/verdict.py)")
    verdict.add_argument("--max-failure-ratio", type=float, default=0.0, help="Locust failures / requests")
    verdict.add_argument("--max-p95-ms", type=float, help="the Aggregated p95 (default: not judged)")
    verdict.add_argument("--max-peak-ratio", type=float, default=1.0, help="writers' peak / capacity")
    verdict.add_argument("--max-drain-ratio", type=float, help="drain time / ideal (default: not judged)")
    verdict.add_argument(
        "--peak-window", type=int, default=1, help="seconds the writers' peak is averaged over (default: 1)"
    )
    parser.add_argument("--reconcile", choices=["scan", "query"], help="default: scan locally, query on a stage")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/spike"), help="logs, Locust CSV/HTML, chart")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)
