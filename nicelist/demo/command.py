"""``nicelist up`` and ``nicelist demo``: the local stack, and the story told on it."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from nicelist.autoscaling import AutoScaling, AutoScalingError
from nicelist.dashboard.serve import free_dashboard_port, serve_dashboard
from nicelist.dashboard.server import DEFAULT_DASHBOARD_PORT
from nicelist.demo.chart import draw, series_for_chart
from nicelist.demo.report import DemoReport
from nicelist.demo.run import DemoOptions, Run, chart_path, run_buffered, run_direct
from nicelist.local.health import HealthEvent
from nicelist.local.meter.core import DEFAULT_BURST_SECONDS
from nicelist.local.notifications import LOG_NAME, Notification, describe, read_notifications
from nicelist.local.processes import StartupError
from nicelist.local.ramp import RampError, parse_ramp
from nicelist.local.stack import LocalStack, StackConfig
from nicelist.writerate import WRITE_RATE
from writer.autorate import AutoRate, FixedRate

DIRECT_STAGE = "local-direct"
ALARM_PATIENCE_PERIODS = 6  # an alarm of 3 of 5 periods clears 3-5 periods after its metric did


def _stack_options(function: Any) -> Any:
    options = [
        click.option("--capacity", default=100, show_default=True, help="The local table's write capacity (WCU/s)."),
        click.option("--write-rate", type=WRITE_RATE, default=None,
                     help="Writers' budget W, WCU/s, or auto[:F]: F x the table's capacity (default 0.97 x capacity)."),
        click.option("--autoscale", type=AUTOSCALE, default=None, metavar="MIN:MAX[:TARGET]",
                     help="DynamoDB auto scaling of the table (emulated by the meter); --capacity starts it."),
        click.option("--time-factor", type=click.FloatRange(0, 600, min_open=True), default=1.0, show_default=True,
                     help="Auto scaling only: one emulated minute every 60/F s (the meter's seconds stay real)."),
        click.option("--burst-seconds", type=click.FloatRange(min=0), default=DEFAULT_BURST_SECONDS,
                     show_default=True, help="The meter's burst credit, as DynamoDB's; 0: no second over capacity."),
        click.option("--concurrency", default=2, show_default=True, help="Writer executions (reserved = maximum)."),
        click.option("--batch-size", default=10, show_default=True, help="Messages per writer invocation."),
        click.option("--api-port", default=8080, show_default=True),
        click.option("--moto-port", default=4566, show_default=True),
        click.option("--meter-port", default=4567, show_default=True),
        click.option("--control-port", default=4599, show_default=True, help="Writer runtime's tuning endpoint."),
        click.option("--run-dir", type=click.Path(path_type=Path), default=Path("runs/local"), show_default=True,
                     help="Logs of every component, and the charts."),
        # Local CloudWatch (nicelist/local/emulator.py): the alarms' compressed period and queue-age threshold.
        click.option("--queue-age-alarm", type=click.IntRange(min=1), default=900, show_default=True,
                     help="Alarm when the oldest message is older than this many seconds (AWS default 900)."),
        click.option("--alarm-period", type=click.IntRange(min=1), default=10, show_default=True,
                     help="Every alarm's period in seconds (60 on AWS; 10 makes 3 of 5 periods take 30-50 s)."),
        # Lambda's poller scaling, emulated (docs/design.md, "The local stack").
        click.option("--poller-ramp", default="off", show_default=True,
                     help="off | aws (5, +300/min) | provisioned:MIN:MAX | INITIAL:PER_MINUTE concurrent invokes."),
        click.option("--poller-ramp-minute", type=click.FloatRange(min=0.001, max=86_400), default=60.0,
                     show_default=True, help="Seconds one ramp minute lasts (the time factor; 60 is AWS's)."),
        # The live dashboard (nicelist.dashboard): a web page on 127.0.0.1.
        click.option("--dashboard-port", default=DEFAULT_DASHBOARD_PORT, show_default=True,
                     help="The live dashboard's port."),
        click.option("--no-dashboard", is_flag=True, help="Do not serve the live dashboard."),
    ]  # fmt: skip
    for option in reversed(options):
        function = option(function)
    return function


class _AutoScale(click.ParamType[AutoScaling]):
    name = "MIN:MAX[:TARGET]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> AutoScaling:
        try:
            return value if isinstance(value, AutoScaling) else AutoScaling.parse(str(value))
        except AutoScalingError as error:
            self.fail(str(error), param, ctx)


AUTOSCALE = _AutoScale()


def _config(**values: Any) -> StackConfig:
    rate = values["write_rate"]
    return StackConfig(
        capacity=values["capacity"],
        write_rate=rate.wcu if isinstance(rate, FixedRate) else None,
        auto_write_rate=rate if isinstance(rate, AutoRate) else None,
        autoscale=values["autoscale"],
        time_factor=values["time_factor"],
        burst_seconds=values["burst_seconds"],
        concurrency=values["concurrency"],
        batch_size=values["batch_size"],
        api_port=values["api_port"],
        moto_port=values["moto_port"],
        meter_port=values["meter_port"],
        control_port=values["control_port"],
        run_dir=values["run_dir"],
        queue_age_alarm=values["queue_age_alarm"],
        alarm_period=values["alarm_period"],
        poller_ramp=_ramp_spec(values["poller_ramp"], values["poller_ramp_minute"]),
        poller_ramp_minute=values["poller_ramp_minute"],
    )


def _ramp_spec(spec: str, minute: float) -> str:
    """The ramp as given, refused here (a usage error) rather than when the runtime starts."""
    try:
        parse_ramp(spec, minute)
    except RampError as error:
        raise click.BadParameter(str(error), param_hint="--poller-ramp") from None
    return spec


@click.command("up")
@_stack_options
def up(**values: Any) -> None:
    """Run the whole stack on this machine until Ctrl-C: moto server, meter, enqueue API, writers."""
    config = _config(**values)
    console = Console()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # until the stack is up: stop what has started
    try:
        dashboard_port = _dashboard_port(values)
        with (
            LocalStack(
                config,
                on_health=lambda event: _print_health(console, event),
                on_notification=lambda line: _print_notification(console, line),
            ) as stack,
            serve_dashboard(stack, dashboard_port) as dashboard,
        ):
            console.print(f"[bold]nicelist {config.stage}[/] is up.")
            if dashboard is not None:
                console.print(f"  dashboard     {dashboard.url}   (open in a browser)")
            console.print(f"  enqueue API   {stack.api_url}/v1/updates   (x-api-key: {config.api_key})")
            console.print(f"  embedded AWS  {stack.aws_url}   (AWS_ENDPOINT_URL; any credentials)")
            console.print(f"  metered DDB   {stack.dynamodb_url}/_meter/stats   (faults: /_meter/faults)")
            burst = f"{config.burst_seconds:g} s of burst credit" if config.burst_seconds else "strict, no burst"
            console.print(f"  table         {config.capacity} WCU/s, {burst}")
            if config.autoscale is not None or config.auto_write_rate is not None:
                console.print(f"  auto scaling  {_auto_line(config)}")
            runtime = stack.runtime
            if runtime is not None and runtime.control_url:
                console.print(f"  writer tuning {runtime.control_url}   (nicelist tune --control-url …)")
            console.print(f"  logs          {config.run_dir}/")
            console.print(
                f"  alarms        {config.run_dir}/{LOG_NAME}   (period {config.alarm_period} s, printed here)"
            )
            console.print("Watching moto, DynamoDB (through the meter) and SQS (as the API reaches it).")
            console.print("Ctrl-C stops everything.")
            stopped = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stopped.set())
            with contextlib.suppress(KeyboardInterrupt):
                stopped.wait()
    except StartupError as error:
        raise click.ClickException(str(error)) from None


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``with`` stops its processes (no orphaned moto or meter)."""
    raise SystemExit(128 + signum)


def _print_notification(console: Console, line: Notification) -> None:
    """An alarm notification as it arrives through the stage's SNS topic."""
    colour = {"ALARM": "red", "OK": "green"}.get(line["state"], "yellow")
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] [{colour}]{describe(line)}[/]", highlight=False)


def _auto_line(config: StackConfig) -> str:
    scaling = "none"
    if config.autoscale is not None:
        scaling = (
            f"{config.autoscale.minimum}..{config.autoscale.maximum} WCU at {config.autoscale.target:g} %, "
            f"one emulated minute every {60 / config.time_factor:g} s"
        )
    return f"{scaling}; write rate {config.auto_write_rate or config.budget}"


def _dashboard_port(values: dict[str, Any]) -> int | None:
    return None if values["no_dashboard"] else free_dashboard_port(int(values["dashboard_port"]))


def _print_health(console: Console, event: HealthEvent) -> None:
    """One line per change, stamped with the local time: what went away, and when it came back."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
    colour = "red" if event.kind == "down" else "green"
    console.print(f"[dim]{stamp}[/] [{colour}]{event.message()}[/]", highlight=False)


@click.command("demo")
@click.option("--updates", default=5000, show_default=True, help="Updates to send in the story.")
@click.option("--children", default=500, show_default=True, help="Distinct children.")
@click.option("--spike-factor", default=10.0, show_default=True, help="Spike write load, x table capacity.")
@click.option("--seed", default=23, show_default=True)
@click.option("--direct", is_flag=True, help="Only the 2017 way: producers write straight to the table.")
@click.option("--compare", is_flag=True, help="Run the direct way, then the buffered way; one chart with both.")
@click.option("--chart", "chart", type=click.Path(path_type=Path), default=None, help="PNG path (default: run dir).")
@click.option("--json", "as_json", is_flag=True, help="Print the report(s) as JSON.")
@click.option("--no-live", is_flag=True, help="No live view while it runs.")
@_stack_options
def demo(
    updates: int,
    children: int,
    spike_factor: float,
    seed: int,
    direct: bool,
    compare: bool,
    chart: Path | None,
    as_json: bool,
    no_live: bool,
    **values: Any,
) -> None:
    """Start the stack, replay 23 December (quiet, a spike of ~10x the table's capacity, quiet), report.

    Exits 0 only when nothing was lost: the table holds exactly the newest status and location of every
    child the API accepted an update for, every track point, and the DLQ holds exactly the malformed
    messages the demo injected. (--direct, which loses writes by design, therefore exits 1; --compare
    exits 0 when the buffered half lost nothing, whatever the direct half lost.)
    """
    config = _config(**values)
    options = DemoOptions(updates=updates, children=children, spike_factor=spike_factor, seed=seed, live=not no_live)
    reports: list[tuple[DemoReport, Run]] = []
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        dashboard_port = _dashboard_port(values)
        with (
            LocalStack(config, extra_stages=[DIRECT_STAGE] if direct or compare else []) as stack,
            serve_dashboard(stack, dashboard_port) as dashboard,
        ):
            if dashboard is not None:
                Console(stderr=True).print(f"dashboard: {dashboard.url}", highlight=False)
            if direct or compare:
                reports.append(run_direct(stack, options, f"nicelist-{DIRECT_STAGE}"))
            if not direct:
                report, run, monitor = run_buffered(stack, options)
                samples = monitor.timeline.snapshot()
                reports.append((report, run))
                report.series["queue"] = [{s.second: s.queued for s in samples}]
                report.series["backlog"] = [{s.second: s.backlog_updates for s in samples}]
                if stack.runtime is not None:  # the poller ramp's timeline (issue 13)
                    ramp = stack.runtime.timeline()
                    report.series["pollers"] = [{row["second"]: row["pollers"] for row in ramp}]
                    report.series["in_flight"] = [{row["second"]: row["in_flight"] for row in ramp}]
            # Local CloudWatch: judge the run's last periods, and give clearing alarms time to clear.
            if stack.cloudwatch is not None:
                if not as_json:
                    click.echo("waiting for the alarms to judge the run's last periods ...", err=True)
                stack.cloudwatch.settle(config.alarm_period, patience=ALARM_PATIENCE_PERIODS * config.alarm_period)
    except StartupError as error:
        raise click.ClickException(str(error)) from None
    path = chart or chart_path(config.run_dir, "compare" if compare else ("direct" if direct else "demo"))
    _chart(reports, path, float(config.capacity))
    for report, _ in reports:
        report.chart = str(path)
    _print(reports, as_json)
    if not as_json:
        _print_notifications(config.run_dir)
    sys.exit(0 if verdict_ok([r for r, _ in reports], compare=compare) else 1)


def _print_notifications(run_dir: Path) -> None:
    """The alarm notifications of this run (``notifications.log``), after the report."""
    lines = read_notifications(run_dir / LOG_NAME)
    console = Console(width=max(100, Console().width))
    console.print(f"alarm notifications: {len(lines)}" + (" (none fired)" if not lines else ""))
    for line in lines:
        colour = {"ALARM": "red", "OK": "green"}.get(line["state"], "yellow")
        console.print(f"  [dim]{line['time'][11:19]}[/] [{colour}]{describe(line)}[/]", highlight=False, soft_wrap=True)


def verdict_ok(reports: list[DemoReport], *, compare: bool) -> bool:
    """--compare shows what the direct way loses; only the buffered half must lose nothing."""
    judged = [r for r in reports if r.mode != "direct"] if compare else reports
    return bool(judged) and all(r.ok for r in judged)


def _chart(reports: list[tuple[DemoReport, Run]], path: Path, capacity: float) -> None:
    panels = []
    length = max(int(run.finished - run.started) + 2 for _, run in reports)
    for report, run in reports:
        start = int(run.started)
        depth = report.series.get("queue", [{}])[0]
        backlog = report.series.get("backlog", [{}])[0]
        data = series_for_chart(start, start + length, run.counts.per_second, report.series["meter"], depth, backlog)
        title = (
            f"{report.mode}: {report.accepted:,} accepted, {report.lost:,} lost, "
            f"peak {report.rates.peak_units_per_second} WCU/s"
        )
        panels.append((title, data))
    draw(path, panels, capacity)


def _print(reports: list[tuple[DemoReport, Run]], as_json: bool) -> None:
    if as_json:
        payload = [r.as_dict() for r, _ in reports]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    console = Console(width=max(100, Console().width))
    table = Table(title="nicelist demo report", show_header=len(reports) > 1)
    table.add_column("", no_wrap=True)
    for report, _ in reports:
        table.add_column(report.mode, justify="right")
    rows = [dict(r.lines()) for r, _ in reports]
    for label in rows[-1]:
        if label != "chart":  # a long path in a narrow column would be cut: printed whole below
            table.add_row(label, *(row.get(label, "") for row in rows))
    console.print(table)
    if reports[-1][0].chart:
        console.print(f"chart: {reports[-1][0].chart}", soft_wrap=True)
    for report, _ in reports:
        verdict = "[green]OK[/]: nothing lost" if report.ok else f"[red]FAILED[/]: {report.lost} lost"
        console.print(f"{report.mode}: {verdict}")
