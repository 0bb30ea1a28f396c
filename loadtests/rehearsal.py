"""Rehearse a peak on the local stack: the table scales (DynamoDB auto scaling, emulated by the meter),
the writers follow (write rate ``auto``), the writers' concurrency follows the backlog (``nicelist tune
--auto``, with ``--concurrency-auto MIN:MAX``), and the alarms fire and clear as they would on AWS, with
nobody touching anything.

``python -m loadtests.rehearsal`` starts the stack with ``--autoscale`` and ``--write-rate auto``,
replays the demo's story (quiet, a spike of ``--spike-factor`` x the starting capacity, quiet), waits
for the drain, checks that nothing was lost and that no second's writes (accepted, and offered:
accepted + throttled) exceeded the capacity in force in that second, prints what auto scaling did,
and draws capacity, write rate and backlog over time (README, "Rehearse a peak").

With ``--concurrency-auto`` the rehearsal runs ``nicelist tune --stage local --auto --json`` as an
operator would, in a process of its own for the whole run, and stops it with Ctrl-C at the end; each
change it applied is printed and drawn. The alarm notifications the stage's SNS topic delivered
(``notifications.log``, docs/design.md "The local stack") are printed and drawn as well; the queue-age
threshold is ``--queue-age-alarm``, so a short spike can age past it.

Time is compressed for auto scaling only (``--time-factor``: one emulated minute every 60/F real
seconds); the meter's per-second enforcement is real. The writers' W/C cache (5 s) would be five
emulated minutes at F = 60, so the rehearsal runs them with a 1 s cache (``--cache-seconds``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
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
from nicelist.local.notifications import LOG_NAME, Notification, describe, read_notifications
from nicelist.local.stack import LocalStack, StackConfig
from nicelist.logs import parse_time
from nicelist.options import LOCAL_CREDENTIALS
from writer.autorate import AutoRate, parse_write_rate


@dataclass(slots=True)
class Rehearsal:
    """What one rehearsal measured: the report, the meter's seconds, the backlog, auto scaling's activities."""

    report: DemoReport
    started: int
    seconds: list[dict[str, Any]]  # the meter's series: second, units, throttled_units, capacity
    backlog: dict[int, int | None]
    activities: list[dict[str, Any]] = field(default_factory=list)
    concurrency: list[dict[str, Any]] = field(default_factory=list)  # tune --auto's applied changes
    notifications: list[Notification] = field(default_factory=list)

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
            "concurrency_changes": [
                {"at": c["at"], "before": c["before"], "after": c["after"]} for c in self.concurrency
            ],
            "alarms": [{"time": n["time"], "alarm": n["alarm"], "state": n["state"]} for n in self.notifications],
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
            f"seconds over capacity: {len(self.over_capacity())}"
            + "".join(
                f"  (+{s['second'] - self.started} s: {s['units']} of {s['capacity']})" for s in self.over_capacity()
            ),
        ]
        lines += [
            f"  +{a['real'] - self.started:5.0f} s  {a['from']:>4} -> {a['to']:>4} WCU  {a['cause']}"
            for a in self.activities
        ]
        if self.concurrency:
            lines.append("writers' concurrency (nicelist tune --auto):")
            for change in self.concurrency:
                at = _epoch(change["at"]) - self.started
                reasons = "; ".join(change.get("reasons") or [])
                lines.append(f"  +{at:5.0f} s  C {change['before']} -> {change['after']}  {reasons}")
        lines.append(f"alarm notifications: {len(self.notifications)}" + ("" if self.notifications else " (none)"))
        lines += [f"  +{_epoch(n['time']) - self.started:5.0f} s  {describe(n)}" for n in self.notifications]
        return lines


def _epoch(iso: str) -> float:
    """An ISO 8601 time (``tune --auto``'s ``at``, a notification's ``time``) as epoch seconds."""
    moment = parse_time(iso)  # the one reader of log times (nicelist.logs)
    if moment is None:
        raise ValueError(f"not an ISO 8601 time: {iso!r}")
    return moment.timestamp()


def tune_auto_command(stack: LocalStack, *options: str) -> tuple[list[str], dict[str, str]]:
    """``nicelist tune --auto --json`` with ``options`` against ``stack``, as a user would start it, and
    the environment it runs in (the rehearsal's and tests/e2e/test_autoscale_local.py's)."""
    config = stack.config
    command = [sys.executable, "-m", "nicelist", "tune", "--stage", config.stage, "--auto", "--json", *options]
    command += ["--endpoint-url", stack.aws_url, "--meter-url", stack.dynamodb_url]
    command += ["--control-url", f"http://{config.host}:{config.control_port}"]
    return command, {**os.environ, **LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"}


@contextlib.contextmanager
def concurrency_autoscaler(stack: LocalStack, bounds: tuple[int, int] | None) -> Iterator[list[dict[str, Any]]]:
    """``nicelist tune --auto`` against the stack for as long as the block runs; yields its applied changes."""
    applied: list[dict[str, Any]] = []
    if bounds is None:
        yield applied
        return
    command, environment = tune_auto_command(
        stack,
        *("--min", str(bounds[0]), "--max", str(bounds[1]), "--interval", "3", "--cooldown", "10"),
        *("--idle-for", "15", "--drain-target", "20", "--settle-seconds", "6"),
    )
    log = (stack.config.run_dir / "tune-auto.log").open("w", encoding="utf-8")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=environment)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("applied"):
                    applied.append(record)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield applied
    finally:
        process.send_signal(signal.SIGINT)  # as an operator stops it
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        reader.join(timeout=10)
        log.close()


def rehearse(
    config: StackConfig, options: DemoOptions, linger: float = 0.0, concurrency: tuple[int, int] | None = None
) -> Rehearsal:
    """Run the story once on a stack built from ``config``, then watch ``linger`` seconds more (auto
    scaling scales in once the table has been quiet long enough, ``tune --auto`` lowers C, alarms
    clear); the stack is stopped on return."""
    with LocalStack(config) as stack, concurrency_autoscaler(stack, concurrency) as changes:
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
    notifications = [n for n in read_notifications(config.run_dir / LOG_NAME) if _epoch(n["time"]) >= started]
    backlog = {s.second: s.backlog_updates for s in samples}
    return Rehearsal(report, started, seconds, backlog, activities, list(changes), notifications)


def draw(path: Path, rehearsal: Rehearsal, title: str) -> Path:
    """Capacity (step), the write rate offered and accepted, and the backlog, per second."""
    start = rehearsal.started
    t = [s["second"] - start for s in rehearsal.seconds]
    figure, (axis, lower) = plt.subplots(2, 1, figsize=(11, 6.2), sharex=True, gridspec_kw={"height_ratios": [3, 1.1]})
    axis.step(
        t, [s["capacity"] for s in rehearsal.seconds], where="post", color="#2da44e", lw=2, label="capacity (WCU)"
    )
    offered = [s["units"] + s["throttled_units"] for s in rehearsal.seconds]
    axis.plot(t, offered, color="#9aa5b1", lw=1.0, label="write rate offered (WCU/s)")
    axis.plot(t, [s["units"] for s in rehearsal.seconds], color="#1f6feb", lw=1.6, label="write rate accepted (WCU/s)")
    for activity in rehearsal.activities:
        axis.axvline(activity["real"] - start, color="#2da44e", alpha=0.25, lw=1)
    _draw_concurrency_and_alarms(lower, rehearsal, t[-1] if t else 0)
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


def _draw_concurrency_and_alarms(axis: Any, rehearsal: Rehearsal, end: float) -> None:
    """C over time (a step per applied change) and each alarm's time in ALARM (a band per alarm)."""
    start = rehearsal.started
    axis.set_xlabel("seconds")
    axis.grid(alpha=0.3)
    if rehearsal.concurrency:
        first = rehearsal.concurrency[0]["before"]
        xs = [0.0, *(_epoch(c["at"]) - start for c in rehearsal.concurrency), end]
        ys = [first, *(c["after"] for c in rehearsal.concurrency)]
        ys.append(ys[-1])
        axis.step(xs, ys, where="post", color="#8250df", lw=2, label="writers' concurrency C (tune --auto)")
        axis.set_ylim(0, max(ys) + 1)
    axis.set_ylabel("C")
    firing: dict[str, float] = {}
    colours = ["#cf222e", "#bf8700", "#0969da", "#1a7f37", "#6e7781", "#8250df"]
    names: list[str] = []
    for note in rehearsal.notifications:
        at = _epoch(note["time"]) - start
        if note["alarm"] not in names:
            names.append(note["alarm"])
        if note["state"] == "ALARM":
            firing[note["alarm"]] = at
        elif note["alarm"] in firing:
            _band(
                axis, firing.pop(note["alarm"]), at, colours[names.index(note["alarm"]) % len(colours)], note["alarm"]
            )
    for alarm, since in firing.items():
        _band(axis, since, end, colours[names.index(alarm) % len(colours)], alarm)
    handles, labels = axis.get_legend_handles_labels()
    if handles:
        unique = dict(zip(labels, handles, strict=True))
        axis.legend(unique.values(), unique.keys(), loc="upper right", fontsize=8)


def _band(axis: Any, since: float, until: float, colour: str, alarm: str) -> None:
    axis.axvspan(since, until, color=colour, alpha=0.18, label=f"in ALARM: {alarm.split('-', 2)[-1]}")


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
    cli.add_argument(
        "--concurrency-auto", type=_bounds, default=None, metavar="MIN:MAX",
        help="run nicelist tune --auto --min MIN --max MAX for the whole rehearsal (default: C stays put)",
    )  # fmt: skip
    cli.add_argument("--queue-age-alarm", type=int, default=900, help="the queue-age alarm's threshold, s")
    for name, default in (("moto", 4566), ("meter", 4567), ("api", 8080), ("control", 4599)):
        cli.add_argument(f"--{name}-port", type=int, default=default)
    return cli


def _bounds(text: str) -> tuple[int, int]:
    low, _, high = text.partition(":")
    if not (low.isdigit() and high.isdigit() and 1 <= int(low) <= int(high) <= 1000):
        raise argparse.ArgumentTypeError("MIN:MAX, two integers with 1 <= MIN <= MAX <= 1000")
    return int(low), int(high)


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
        queue_age_alarm=args.queue_age_alarm,
        writer_environment=(("NICELIST_WRITE_RATE_CACHE_SECONDS", str(args.cache_seconds)),),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = config_from(args)
    options = DemoOptions(updates=args.updates, children=args.children, spike_factor=args.spike_factor, live=False)
    began = time.time()
    rehearsal = rehearse(config, options, args.linger, args.concurrency_auto)
    if args.json:
        draw(args.chart, rehearsal, "rehearsal")
        print(json.dumps(rehearsal.summary(), indent=2))
        return 0 if rehearsal.summary()["ok"] else 1
    bounds = args.concurrency_auto
    writers = f"C auto {bounds[0]}..{bounds[1]}" if bounds else f"C {config.concurrency}"
    print(
        f"rehearsal: autoscale {config.autoscale}, time factor {config.time_factor:g}, write rate {args.write_rate}, "
        f"{writers}, queue-age alarm {config.queue_age_alarm} s"
    )
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
