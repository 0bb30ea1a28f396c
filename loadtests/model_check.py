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
invocation overhead is one figure for all, from the calibration step (``--calibrate``: the median of
what the writers' "batch done" lines spend beyond their paced writes, plus the runtime's dispatch).

Exit 1 when any figure of any configuration differs from the measured one by more than 10 % (shares:
10 % of the measured share, at least half a point, see ``within``); 2 when the stack cannot start.
"""

from __future__ import annotations

import argparse
import json
import math
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
from nicelist.local.stack import LocalStack, StackConfig
from nicelist.model import Mapping, Scenario, TableSpec, WriterSpec, simulate
from nicelist.model.arrivals import from_counts
from nicelist.model.writer import coalesced_units, packed

TOLERANCE = 0.10
SHARE_FLOOR = 0.005  # shares closer than half a point agree, whatever their ratio (0 against 0.2 %)
CAPACITY = 100
# What the writers spend per batch beyond their paced writes on this stack: measured by --calibrate
# (see the module docstring); the figure in use, with the run it came from, is in the README.
INVOCATION_OVERHEAD = 0.25
PEAK_WINDOW = 5  # seconds: a one-second peak carries one request's timing across a second (below)
MEASURED = "measured.json"


@dataclass(frozen=True, slots=True)
class CheckConfig:
    name: str
    concurrency: int
    batch_size: int
    spike_factor: float
    write_share: float = 0.97  # W as a share of the capacity
    updates: int = 4000
    burst_seconds: float = 300.0


CONFIGS = (
    CheckConfig("c2-b10-x10", concurrency=2, batch_size=10, spike_factor=10),
    CheckConfig("c3-b5-x6-w60", concurrency=3, batch_size=5, spike_factor=6, write_share=0.6),
    CheckConfig("c1-b10-x8-w80", concurrency=1, batch_size=10, spike_factor=8, write_share=0.8),
)


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


def scenario_for(measured: Measured, overhead: float) -> Scenario:
    """The model's side of one local run: what the producers did, and the stack's settings."""
    config = measured.config
    start = math.floor(measured.started)
    profile = from_counts(measured.per_second, start)
    messages = demo_messages(config)
    units = coalesced_units(messages, config.batch_size)
    per_message = sum(len(m) for m in messages) / len(messages)
    writer = WriterSpec(
        write_rate=round(CAPACITY * config.write_share, 1),
        concurrency=config.concurrency,
        timeout=30,
        units_per_update=units,
        updates_per_message=per_message,
        invocation_overhead=overhead,
    )
    table = TableSpec(CAPACITY, burst_seconds=config.burst_seconds)
    mapping = Mapping(batch_size=config.batch_size, maximum_concurrency=config.concurrency)
    return Scenario(profile, mapping, writer, table, dt=1.0, spike_start=float(measured.spike_start - start))


def options_for(config: CheckConfig) -> DemoOptions:
    return DemoOptions(updates=config.updates, spike_factor=config.spike_factor, live=False)


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
        messages += packed(valid, max(1, min(MAX_ARRAY, round(phase.rate * TICK))))
    return messages


def run_config(config: CheckConfig, args: argparse.Namespace) -> Measured:
    stack_config = StackConfig(
        capacity=CAPACITY,
        write_rate=round(CAPACITY * config.write_share, 1),
        burst_seconds=config.burst_seconds,
        concurrency=config.concurrency,
        batch_size=config.batch_size,
        moto_port=args.base_port,
        meter_port=args.base_port + 1,
        control_port=args.base_port + 2,
        api_port=args.api_port,
        run_dir=args.run_dir / config.name,
        watch_health=False,
    )
    with LocalStack(stack_config) as stack:
        report, run, _ = run_buffered(stack, options_for(config))
    measured = Measured(config, dict(run.counts.per_second), run.started, run.spike_start, report.series["meter"])
    measured.save(args.run_dir / config.name / MEASURED)
    return measured


def compare(measured: Measured, overhead: float) -> Comparison:
    began = time.perf_counter()
    result = simulate(scenario_for(measured, overhead))
    elapsed = time.perf_counter() - began
    offered = [w + t for w, t in zip(result.series.written, result.series.throttled, strict=True)]
    spike = int(result.scenario.spike_start)
    windows = range(spike, max(spike + 1, len(offered) - PEAK_WINDOW + 1))
    peak = max((sum(offered[i : i + PEAK_WINDOW]) / PEAK_WINDOW for i in windows), default=0.0)
    model = Figures(result.drain_seconds, peak / CAPACITY, result.throttled_share)
    return Comparison(measured.config, model, measured.figures(), elapsed)


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
    parser.add_argument("--overhead", type=float, default=INVOCATION_OVERHEAD, help="Seconds per batch (calibrated).")
    parser.add_argument("--replay", action="store_true", help="Compare again with the runs saved in --run-dir.")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
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
        comparisons.append(compare(measured, args.overhead))
    if args.json:
        print(json.dumps([{"config": asdict(c.config), "model": asdict(c.model), "measured": asdict(c.measured),
                           "ok": c.ok} for c in comparisons], indent=2))  # fmt: skip
    else:
        print("\n".join(render(comparisons)))
    return 0 if comparisons and all(c.ok for c in comparisons) else 1


if __name__ == "__main__":
    sys.exit(main())
