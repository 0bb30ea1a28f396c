"""``nicelist bench``: nicelist and the naive baseline on the same workload, one table of figures and ratios."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from nicelist.bench.report import as_dict, render
from nicelist.bench.run import QUICK, BenchOptions, load_average, measure
from nicelist.cost import PriceError, load_prices
from nicelist.local.processes import StartupError


@click.command("bench")
@click.option("--quick", is_flag=True, help="A smaller run (under 3 minutes on 2 cores): CI's smoke test.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--prices",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A price table (TOML, the keys of nicelist/prices.toml).",
)
@click.option(
    "--moto-port", default=0, show_default=True, help="The local stack's moto; meter, API, control on the next three "
    "(0: four free ports).",
)  # fmt: skip
@click.option(
    "--run-dir", type=click.Path(path_type=Path), default=Path("runs/bench"), show_default=True,
    help="The local stack's logs, and bench.json: the whole report as JSON.",
)  # fmt: skip
def bench(quick: bool, as_json: bool, prices: Path | None, moto_port: int, run_dir: Path) -> None:
    """Measure nicelist and the naive baseline (one SendMessage per update; a consumer that writes one item
    per record with PutItem) on the same workload: SQS and DynamoDB requests, write units, throughput,
    the API's CPU, what the meter saw, correctness, and the AWS bill per million updates.

    Exits 1 when nicelist's final state is wrong or it lost an update."""
    try:
        price_table = load_prices(prices)
    except PriceError as error:
        raise click.UsageError(str(error)) from error
    options = BenchOptions(moto_port=moto_port, run_dir=run_dir, **(QUICK if quick else {}))
    started, wall = time.monotonic(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = load_average()

    def progress(line: str) -> None:
        click.echo(f"bench {time.monotonic() - started:6.1f}s  {line}", err=True)

    try:
        measured = measure(options, progress)
    except StartupError as error:
        raise click.ClickException(str(error)) from None
    meta = _meta(options, quick, wall, time.monotonic() - started, load_before)
    report = json.dumps(as_dict(measured, price_table, meta), indent=2)
    (run_dir / "bench.json").write_text(report + "\n")  # every figure of the run, whichever was printed
    if as_json:
        click.echo(report)
    else:
        click.echo(render(measured, price_table, _header(meta)))
    ours = measured.e2e["nicelist"]
    sys.exit(0 if measured.writer.verdict.exact and ours.correct else 1)


def _meta(options: BenchOptions, quick: bool, date: str, seconds: float, load_before: float) -> dict[str, Any]:
    return {
        "command": "nicelist bench"
        + (" --quick" if quick else "")
        + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:] if a not in {"bench", "--quick", "--json"}),
        "date": date,
        "duration_seconds": round(seconds, 1),
        "machine": {
            "cpus": _cpus(),
            "python": platform.python_version(),
            "moto": metadata.version("moto"),
            "platform": platform.platform(),
            "load_average_1m": {"start": load_before, "end": load_average()},
        },
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(options).items()},
    }


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


def _header(meta: dict[str, Any]) -> list[str]:
    machine, options = meta["machine"], meta["options"]
    load = machine["load_average_1m"]
    return [
        f"{meta['command']}   {meta['date']}, {meta['duration_seconds']:.0f} s",
        f"machine: {machine['cpus']} CPUs, Python {machine['python']}, moto {machine['moto']}, "
        f"load average {load['start']} at the start, {load['end']} at the end",
        f"in-process: {options['updates']:,} updates about {options['children']:,} children (seed {options['seed']}), "
        f"envelopes of 1,000, 10 per invocation; single updates: {options['singles']:,}",
        f"end to end: the demo's story, {options['e2e_updates']:,} updates each way, table {options['capacity']} "
        f"WCU/s, writer {options['concurrency']} executions, naive consumer {options['naive_concurrency']} at once; "
        f"enqueue load {options['load_threads']} threads x "
        f"{options['load_seconds']:g} s",
    ]
