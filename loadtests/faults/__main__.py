"""``python -m loadtests.faults [SCENARIO ...] [--quick] [--json]``: run fault scenarios, one stack each, in turn."""

from __future__ import annotations

import argparse
import json
import logging
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from loadtests.faults import bodies, crash, outage, poison, redrive, storm, throttle
from loadtests.faults.harness import ROOT, Result
from loadtests.faults.report import render

Scenario = Callable[[Path, bool, int, frozenset[str]], Result]
SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "crash": (crash.run, "SIGKILL writer executions at random moments during a spike and its drain"),
    "throttle": (
        throttle.run,
        "a table at a third of the needed capacity, injected throttles, the rate changed mid-spike",
    ),
    "poison": (poison.run, "malformed bodies straight into SQS in the middle of a spike"),
    "storm": (storm.run, "every update several times, shuffled, bare and packed"),
    "redrive": (redrive.run, "updates failed into the DLQ, the cause fixed, `nicelist dlq redrive`, killed midway"),
    "outage": (outage.run, "DynamoDB (the meter) and the API's path to SQS go away and come back"),
}


def parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<9} {text}" for name, (_, text) in SCENARIOS.items())
    cli = argparse.ArgumentParser(
        prog="python -m loadtests.faults",
        description="Run the local stack under each fault and reconcile the table against every acknowledged "
        "update. Exit status 1 on any loss, or on any valid update found in the DLQ.",
        epilog=f"scenarios (all of them when none is named):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="which to run (default: all, in this order)")
    cli.add_argument("--quick", action="store_true", help="the CI sizes: each under about a minute on 2 cores")
    cli.add_argument("--json", action="store_true", help="print the results as JSON")
    cli.add_argument("--seed", type=int, default=23)
    cli.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="CASE",
        help="leave out one case (repeatable): a poison case (" + ", ".join(bodies.CASES) + ") or an outage cut "
        "(sqs-reset, sqs-blackhole, meter-503, meter-reset, meter-hang)",
    )
    cli.add_argument("--run-dir", type=Path, default=Path("runs/faults"), help="logs of every stack")
    return cli


def _commit() -> str:
    try:
        argv = ["git", "rev-parse", "--short", "HEAD"]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        cli.error(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    names = args.scenarios or list(SCENARIOS)
    _log_to(args.run_dir / "faults.log")
    results = []
    for name in names:
        started = time.monotonic()
        print(
            f"[{time.strftime('%H:%M:%S')}] {name}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True
        )
        result = SCENARIOS[name][0](args.run_dir, args.quick, args.seed, frozenset(args.skip))
        result.seconds = time.monotonic() - started
        results.append(result)
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {'OK' if result.ok else 'FAILED'} in {result.seconds:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip
    context = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "commit": _commit(),
               "machine": f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}"}  # fmt: skip
    if args.json:
        print(json.dumps({**context, "ok": all(r.ok for r in results), "results": [r.as_dict() for r in results]},
                         indent=2, default=str))  # fmt: skip
    else:
        print(render(results, context))
    return 0 if all(result.ok for result in results) else 1


def _log_to(path: Path) -> None:
    """The runtime's and the stack's warnings (killed executions, failed batches) go to a file, not the report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=path, level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")


def _cores() -> int:
    import os  # noqa: PLC0415 - only for the report line

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
