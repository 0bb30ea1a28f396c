"""The model against the local stack: the same configuration through ``nicelist.model`` and through
``nicelist demo``'s story on the local stack, side by side.

    .venv/bin/python -m loadtests.model_check              # every configuration, ~1-2 min each on 2 cores
    .venv/bin/python -m loadtests.model_check --only c2-b10 --json

Each configuration starts its own local stack (ports 4640-4649 by default, files in ``--run-dir``),
replays the demo's story through the API (``nicelist.demo.run.run_buffered``) and reads the meter's
figures (``nicelist.demo.report.rate_figures``): drain time from the spike's start to the last write,
the writers' peak second (accepted + throttled units) over the capacity, and the throttled share.
Then the model runs the same configuration on what the producers really did: the updates accepted
each second (the arrival profile) packed as the demo's sender packs them (updates per message by
phase), with the write units per update that coalescing leaves on the demo's own updates at that
batch size (``nicelist.model.writer.coalesced_units``). Nothing is fitted per configuration: the
stack's own costs are two figures for all, from a calibration run made first (one execution: the gap
between two batches, and what one execution writes per second when its budget does not hold it
back, ``calibration_from``); ``--calibrate`` only calibrates.

Exit 1 when any figure of any configuration differs from the measured one by more than 10 % (shares:
10 % of the measured share, at least half a point, see ``within``); 2 when the stack cannot start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import itertools
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from contract import jsonio
from contract.updates import InvalidUpdate, parse_update
from loadtests.verdict import writers_peak
from nicelist.demo.run import DemoOptions, plan, run_buffered
from nicelist.demo.sender import MAX_ARRAY, TICK
from nicelist.local.processes import StartupError
from nicelist.local.ramp import parse_ramp
from nicelist.local.stack import LocalStack, StackConfig
from nicelist.model import Mapping, Scenario, TableSpec, WriterSpec, simulate
from nicelist.model.arrivals import from_counts
from nicelist.model.writer import coalesced_units, packed

TOLERANCE = 0.10
SHARE_FLOOR = 0.005  # shares closer than half a point agree, whatever their ratio (0 against 0.2 %)
CAPACITY = 100
WRITER_TIMEOUT = 60  # the deployed default: a spike's batches (~1,000 units at a share of 24) fit it
PEAK_WINDOW = 5  # seconds: a one-second peak carries one request's timing across a second (below)
MEASURED = "measured.json"
LATENCY_BOUND = 1.1  # a batch 10 % slower than its share allows was held back by its round trips


@dataclass(frozen=True, slots=True)
class CheckConfig:
    name: str
    concurrency: int
    batch_size: int
    spike_factor: float
    write_share: float = 0.97  # W as a share of the capacity
    updates: int = 4000
    burst_seconds: float = 300.0
    poller_ramp: str = "off"  # nicelist.local.ramp's spec; "off": C executions from the start
    share_mode: str = "live"  # the writers' NICELIST_SHARE_MODE


CONFIGS = (
    CheckConfig("c2-b10-x10", concurrency=2, batch_size=10, spike_factor=10),
    CheckConfig("c3-b5-x6-w60", concurrency=3, batch_size=5, spike_factor=6, write_share=0.6),
    CheckConfig("c2-b5-x8-w80", concurrency=2, batch_size=5, spike_factor=8, write_share=0.8),
    # C above the ramp's start: one execution at first, one more every 15 s; W split by C, then by the running
    CheckConfig(
        "c4-ramp-static", concurrency=4, batch_size=10, spike_factor=10, poller_ramp="1:4", share_mode="static"
    ),
    CheckConfig("c4-ramp-live", concurrency=4, batch_size=10, spike_factor=10, poller_ramp="1:4"),
    # W above a strict table (no burst credit): the meter throttles every unit over 100 a second and the
    # writers' AIMD cuts and regrows their rate; the throttled share is a figure to predict, not 0
    CheckConfig("c2-w130-strict", concurrency=2, batch_size=10, spike_factor=10, write_share=1.3, burst_seconds=0),
)
# The calibration run (--calibrate): one execution, so its "batch done" lines follow one another.
CALIBRATION = CheckConfig("calibrate-c1-b10-x10", concurrency=1, batch_size=10, spike_factor=10)


@dataclass(frozen=True, slots=True)
class Figures:
    drain_seconds: float
    peak_ratio: float  # the writers' peak second (accepted + throttled) / capacity
    throttled_share: float


@dataclass(frozen=True, slots=True)
class Comparison:
    config: CheckConfig
    model: Figures
    measured: Figures
    model_seconds: float  # how long the model took

    def rows(self) -> list[tuple[str, float, float, bool]]:
        pairs = [
            ("drain time (s)", self.model.drain_seconds, self.measured.drain_seconds, False),
            ("peak / capacity", self.model.peak_ratio, self.measured.peak_ratio, False),
            ("throttled share", self.model.throttled_share, self.measured.throttled_share, True),
        ]
        return [(label, m, r, within(m, r, share=share)) for label, m, r, share in pairs]

    @property
    def ok(self) -> bool:
        return all(ok for *_, ok in self.rows())


def within(model: float, measured: float, *, share: bool = False, tolerance: float = TOLERANCE) -> bool:
    """``model`` within ``tolerance`` of ``measured`` (relative); a share also agrees within SHARE_FLOOR."""
    if not (math.isfinite(model) and math.isfinite(measured)):
        return False
    allowed = tolerance * abs(measured)
    if share:
        allowed = max(allowed, SHARE_FLOOR)
    return abs(model - measured) <= allowed + 1e-12


def relative(model: float, measured: float) -> float:
    return (model - measured) / measured if measured else (0.0 if model == measured else math.inf)


@dataclass(frozen=True, slots=True)
class Measured:
    """What one local run left for the model: its arrivals and the meter's series (saved as JSON, so
    ``--replay`` compares again without the stack)."""

    config: CheckConfig
    per_second: dict[int, int]  # epoch second -> updates the API accepted
    started: float
    spike_start: int
    meter: list[dict[str, int]]  # the meter's per-second series

    def figures(self) -> Figures:
        spike = [s for s in self.meter if s["second"] >= self.spike_start]
        writing = [s["second"] for s in self.meter if s["units"] > 0]
        drain = float(writing[-1] - self.spike_start + 1) if writing else 0.0
        units = sum(s["units"] for s in self.meter)
        throttled = sum(s["throttled_units"] for s in self.meter)
        peak = writers_peak(spike, PEAK_WINDOW) / CAPACITY
        return Figures(drain, peak, throttled / (units + throttled) if units + throttled else 0.0)

    def save(self, path: Path) -> None:
        data = asdict(self)
        data["per_second"] = {str(k): v for k, v in self.per_second.items()}
        path.write_text(json.dumps(data))

    @classmethod
    def load(cls, path: Path) -> Measured:
        data = jsonio.loads(path.read_text())
        per_second = {int(k): int(v) for k, v in data["per_second"].items()}
        return cls(CheckConfig(**data["config"]), per_second, data["started"], data["spike_start"], data["meter"])


def scenario_for(measured: Measured, calibration: Calibration) -> Scenario:
    """The model's side of one local run: what the producers did, and the stack's settings."""
    config = measured.config
    start = math.floor(measured.started)
    messages = demo_messages(config)
    units = coalesced_units(messages, config.batch_size)
    per_message = sum(len(m) for m in messages) / len(messages)

    def packing(second: int) -> float:
        """The updates per message the sender made in that second: a tick's worth of its rate."""
        return sender_packing(float(measured.per_second.get(second, 0)))

    profile = from_counts(measured.per_second, start, packing)
    writer = WriterSpec(
        write_rate=round(CAPACITY * config.write_share, 1),
        concurrency=config.concurrency,
        timeout=WRITER_TIMEOUT,
        units_per_update=units,
        updates_per_message=per_message,
        invocation_overhead=calibration.overhead,
        execution_wcu=calibration.execution_wcu,
        share_mode=config.share_mode,
    )
    table = TableSpec(CAPACITY, burst_seconds=config.burst_seconds)
    ramp = parse_ramp(config.poller_ramp)
    mapping = Mapping(batch_size=config.batch_size, maximum_concurrency=config.concurrency, ramp=ramp)
    return Scenario(profile, mapping, writer, table, dt=1.0, spike_start=float(measured.spike_start - start))


def options_for(config: CheckConfig) -> DemoOptions:
    return DemoOptions(updates=config.updates, spike_factor=config.spike_factor, live=False)


@functools.cache
def demo_messages(config: CheckConfig) -> list[list[Any]]:
    """The valid updates of the story in the messages the demo's sender makes: per phase, what is due in
    one of its ticks (rate x TICK, at most MAX_ARRAY), one request and so one message each."""
    phases, updates = plan(options_for(config), CAPACITY)
    messages: list[list[Any]] = []
    cursor = 0
    for phase in phases:
        chunk = updates[cursor : cursor + phase.updates]
        cursor += phase.updates
        valid = []
        for update in chunk:
            try:
                valid.append(parse_update(update))
            except InvalidUpdate:
                continue
        messages += packed(valid, round(sender_packing(phase.rate)))
    return messages


def sender_packing(rate: float) -> float:
    """Updates per request (one message each) of ``nicelist.demo.sender.ApiSender`` at ``rate``: what is
    due in one of its ticks, at most MAX_ARRAY."""
    return max(1.0, min(float(MAX_ARRAY), rate * TICK))


def run_config(config: CheckConfig, args: argparse.Namespace) -> Measured:
    stack_config = StackConfig(
        capacity=CAPACITY,
        write_rate=round(CAPACITY * config.write_share, 1),
        burst_seconds=config.burst_seconds,
        concurrency=config.concurrency,
        batch_size=config.batch_size,
        writer_timeout=WRITER_TIMEOUT,
        moto_port=args.base_port,
        meter_port=args.base_port + 1,
        control_port=args.base_port + 2,
        api_port=args.api_port,
        run_dir=args.run_dir / config.name,
        watch_health=False,
        poller_ramp=config.poller_ramp,
        writer_environment=(("NICELIST_SHARE_MODE", config.share_mode),),
    )
    with LocalStack(stack_config) as stack:
        report, run, _ = run_buffered(stack, options_for(config))
    measured = Measured(config, dict(run.counts.per_second), run.started, run.spike_start, report.series["meter"])
    measured.save(args.run_dir / config.name / MEASURED)
    return measured


def compare(measured: Measured, calibration: Calibration) -> Comparison:
    began = time.perf_counter()
    result = simulate(scenario_for(measured, calibration))
    elapsed = time.perf_counter() - began
    offered = [w + t for w, t in zip(result.series.written, result.series.throttled, strict=True)]
    spike = int(result.scenario.spike_start)
    windows = range(spike, max(spike + 1, len(offered) - PEAK_WINDOW + 1))
    peak = max((sum(offered[i : i + PEAK_WINDOW]) / PEAK_WINDOW for i in windows), default=0.0)
    model = Figures(result.drain_seconds, peak / CAPACITY, result.throttled_share)
    return Comparison(measured.config, model, measured.figures(), elapsed)


@dataclass(frozen=True, slots=True)
class Calibration:
    """What the stack costs beyond the rules: ``overhead`` seconds between two batches of one
    execution (delete, receive, dispatch), and ``execution_wcu``, what one execution writes per second
    of writing when its budget does not hold it back (8 threads' round trips to moto)."""

    overhead: float
    execution_wcu: float
    batches: int


def calibration_from(log: Path, batch_size: int) -> Calibration:
    """From the "batch done" lines of a run with one execution (so they follow one another): the median
    gap after a full batch before the next one starts, and units over seconds of the full batches that
    took longer than their budget allowed (their round trips held them back; none: no limit found)."""
    rows = []
    for line in log.read_text(errors="replace").splitlines():
        if '"batch done"' not in line:
            continue
        try:
            entry = jsonio.loads(line)
            end = dt.datetime.strptime(entry["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
            rows.append(
                (end - entry["seconds"], end, entry["dynamodb"]["units"], entry["share_wcu_s"], entry["messages"])
            )
        except (ValueError, KeyError, TypeError):
            continue
    rows.sort()
    full = [(row, after) for row, after in itertools.pairwise(rows) if row[4] >= batch_size]
    if not full:
        return Calibration(math.nan, math.nan, 0)
    gaps = [after[0] - row[1] for row, after in full]
    slow = [row for row, _ in full if row[3] > 0 and row[1] - row[0] > LATENCY_BOUND * row[2] / row[3]]
    seconds = sum(row[1] - row[0] for row in slow)
    return Calibration(statistics.median(gaps), sum(row[2] for row in slow) / seconds if slow else math.inf, len(full))


def calibrate(args: argparse.Namespace) -> Calibration:
    """Run the calibration configuration (or, with --replay, read its saved log)."""
    log = args.run_dir / CALIBRATION.name / "writer.log"
    if not (args.replay or args.keep_calibration):
        print(f"running {CALIBRATION.name} on the local stack (calibration) ...", file=sys.stderr, flush=True)
        run_config(CALIBRATION, args)
    found = calibration_from(log, CALIBRATION.batch_size) if log.exists() else Calibration(math.nan, math.nan, 0)
    overhead = args.overhead if args.overhead is not None else found.overhead
    wcu = args.execution_wcu if args.execution_wcu is not None else found.execution_wcu
    return Calibration(overhead, wcu, found.batches)


def render(comparisons: Sequence[Comparison]) -> list[str]:
    lines = [f"{'configuration':<16} {'figure':<16} {'model':>9} {'measured':>9} {'diff':>8}  verdict"]
    for c in comparisons:
        for label, model, measured, ok in c.rows():
            diff = relative(model, measured)
            shown = f"{diff:+.1%}" if math.isfinite(diff) else "-"
            lines.append(
                f"{c.config.name:<16} {label:<16} {model:>9.3f} {measured:>9.3f} {shown:>8}  {'ok' if ok else 'OFF'}"
            )
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.model_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="Run only this configuration (repeatable).")
    parser.add_argument("--base-port", type=int, default=4640, help="moto; meter +1, control +2.")
    parser.add_argument("--api-port", type=int, default=8140)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/model-check"))
    parser.add_argument("--overhead", type=float, default=None, help="Seconds between batches (default: calibrated).")
    parser.add_argument(
        "--execution-wcu", type=float, default=None, help="One execution's WCU/s (default: calibrated)."
    )
    parser.add_argument("--replay", action="store_true", help="Compare again with the runs saved in --run-dir.")
    parser.add_argument("--calibrate", action="store_true", help="Only calibrate, print the figures.")
    parser.add_argument("--keep-calibration", action="store_true", help="Use the last calibration run's log.")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        calibration = calibrate(args)
    except StartupError as error:
        print(f"cannot start the local stack: {error}", file=sys.stderr)
        return 2
    print(f"calibration: {calibration.overhead:.3f} s between batches, one execution writes "
          f"{calibration.execution_wcu:.1f} WCU/s ({calibration.batches} full batches)", flush=True)  # fmt: skip
    if args.calibrate or not math.isfinite(calibration.overhead):  # an infinite execution_wcu: no limit seen
        return 0 if math.isfinite(calibration.overhead) else 2
    configs = [c for c in CONFIGS if not args.only or c.name in args.only]
    comparisons = []
    for config in configs:
        saved = args.run_dir / config.name / MEASURED
        if args.replay:
            if not saved.exists():
                print(f"{saved}: no saved run to replay (run without --replay first)", file=sys.stderr)
                return 2
            measured = Measured.load(saved)
        else:
            print(f"running {config.name} on the local stack ...", file=sys.stderr, flush=True)
            try:
                measured = run_config(config, args)
            except StartupError as error:
                print(f"cannot start the local stack: {error}", file=sys.stderr)
                return 2
        comparisons.append(compare(measured, calibration))
    if args.json:
        print(json.dumps([{"config": asdict(c.config), "model": asdict(c.model), "measured": asdict(c.measured),
                           "ok": c.ok} for c in comparisons], indent=2))  # fmt: skip
    else:
        print("\n".join(render(comparisons)))
    return 0 if comparisons and all(c.ok for c in comparisons) else 1


if __name__ == "__main__":
    sys.exit(main())
