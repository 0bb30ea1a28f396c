"""``nicelist tune --auto``: read the signals, let ``nicelist.tuning.autoscale`` decide, apply the decision
through ``nicelist tune``'s own path, print one line (or one JSON object) per step.

The signals are read the same way on a deployed stage and locally: ``nicelist.status.stage_status`` for
the backlog, W, the measured write rate and throttles (the meter locally, CloudWatch on AWS), the tune
backend for the concurrency, and CloudWatch's ``AWS/Lambda ConcurrentExecutions`` (Maximum per minute,
``FunctionName`` dimension) for the executions running. Only when CloudWatch has no datapoint for it and
the stage is the local one does the runtime's in-flight count stand in (each step says which).

A decision is applied as ``nicelist tune --concurrency N`` would be (reserved concurrency kept when it
is larger): the doctor's rules first, then the safe order with its wait after C goes up, and the
read-back. Lowering adds a wait of the same length between the executions coming down and C coming
down, so that no invocation started under the larger maximum still runs beside writers on the smaller C
(docs/tuning.md, "nicelist tune --auto")."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError

from contract.names import StageNames
from nicelist.drain import DrainEstimate, LoggedMix, writer_mix
from nicelist.local.control import ControlError, request
from nicelist.mapping import MIN_MAXIMUM_CONCURRENCY
from nicelist.options import AwsTarget
from nicelist.status import LOCAL_METER_URL, stage_status
from nicelist.tuning.autoscale import Autoscaler, Decision, Policy, Signals
from nicelist.tuning.model import LiveStage, StageTuning, StageUnavailable, TuneError, TuneRequest, target_of
from nicelist.tuning.order import Backend, Step, execute, plan_steps
from nicelist.tuning.rules import MAX_MAXIMUM_CONCURRENCY, tuning_findings

ReadBack = Callable[[Backend, StageTuning, Callable[[float], None]], tuple[LiveStage, list[str]]]
# The options of `nicelist tune` that ask for a particular value: --auto decides C alone.
_MANUAL = (
    *("concurrency", "reserved_concurrency", "unreserved", "write_rate", "batch_size", "batching_window"),
    *("pollers", "plan_file", "persist"),
)
DEFAULTS = Policy()


def auto_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of ``nicelist tune --auto`` (the rest of tune's apply to it as documented)."""
    bounds = click.IntRange(MIN_MAXIMUM_CONCURRENCY, MAX_MAXIMUM_CONCURRENCY)
    seconds = click.FloatRange(min=0)
    options = [
        click.option("--auto", is_flag=True, help="Run the autoscaler for C until Ctrl-C (docs/tuning.md)."),
        click.option("--once", is_flag=True, help="--auto: one step, then exit (for a scheduled run)."),
        click.option("--interval", type=click.FloatRange(min=1), default=30.0, show_default=True, help="--auto: s."),
        click.option("--min", "auto_min", type=bounds, default=DEFAULTS.minimum, show_default=True, help="--auto: C."),
        click.option("--max", "auto_max", type=bounds, default=None, help="--auto (required): the most executions."),
        click.option(
            "--drain-target",
            type=click.FloatRange(min=1),
            default=DEFAULTS.drain_target,
            show_default=True,
            help="--auto: s; a backlog that takes longer to drain is pressure.",
        ),
        click.option(
            "--cooldown", type=seconds, default=DEFAULTS.cooldown, show_default=True, help="--auto: s between changes."
        ),
        click.option(
            "--idle-for", type=seconds, default=DEFAULTS.idle_for, show_default=True, help="--auto: s idle to lower C."
        ),
        click.option("--meter-url", envvar="NICELIST_METER_URL", default=None, help="--auto: the local stack's meter."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def policy_from(values: dict[str, Any]) -> Policy:
    if values["auto_max"] is None:
        raise click.UsageError("--auto needs --max N: the most writer executions it may run")
    if values["auto_min"] > values["auto_max"]:
        raise click.UsageError(f"--min {values['auto_min']} is above --max {values['auto_max']}")
    if given := [f"--{name.replace('_', '-')}" for name in _MANUAL if values.get(name) not in (None, False)]:
        raise click.UsageError(f"--auto decides the concurrency alone: drop {', '.join(given)}")
    return Policy(
        minimum=values["auto_min"],
        maximum=values["auto_max"],
        drain_target=values["drain_target"],
        idle_for=values["idle_for"],
        cooldown=values["cooldown"],
    )


def concurrent_executions(cloudwatch: Any, function: str, seconds: float) -> float | None:
    """The most executions of ``function`` CloudWatch saw over the last ``seconds`` (ConcurrentExecutions,
    Maximum per minute, as the Lambda Developer Guide's "Monitoring concurrency" says to read it); None
    without a datapoint."""
    end = dt.datetime.now(dt.UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="ConcurrentExecutions",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=end - dt.timedelta(seconds=max(seconds, 60)),
        EndTime=end,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return max(float(point["Maximum"]) for point in points) if points else None


@dataclass
class SignalReader:
    """Reads one step's signals; ``clock`` is monotonic (the controller's time)."""

    target: AwsTarget
    backend: Backend
    policy: Policy
    meter_url: str | None
    control_url: str
    updates_per_message: float | None
    logged: LoggedMix | None
    clock: Callable[[], float] = time.monotonic

    def read(self) -> tuple[LiveStage, Signals, dict[str, Any]]:
        live = self.backend.read()
        given, logged = self.updates_per_message, self.logged
        status = stage_status(self.target, self.meter_url, updates_per_message=given, logged=logged)
        busy, window, busy_by = self._busy()
        signals = Signals(
            at=self.clock(),
            concurrency=live.tuning.executions or 0,
            backlog=status.backlog,
            budget=status.write_budget,
            measured_rate=status.measured_write_rate,
            throttles=status.throttles,
            busy=busy,
            busy_window=window,
            drain_seconds=status.drain.seconds,
            batch_units=_batch_units(live, status.drain),
            timeout=float(live.facts.writer_timeout),
        )
        sources = {"rate_by": status.measured_by, "busy_by": busy_by, "writer_concurrency": status.writer_concurrency}
        return live, signals, sources

    def _busy(self) -> tuple[float | None, float, str | None]:
        function = StageNames(self.target.stage).writer_function
        seen = concurrent_executions(self.target.client("cloudwatch"), function, self.policy.idle_for)
        if seen is not None:
            return seen, max(self.policy.idle_for, 60.0), "cloudwatch"
        if self.target.stage != "local":  # the stage `nicelist tune` drives through the runtime
            return None, 0.0, None
        try:
            stats = request(self.control_url, "/stats")
        except ControlError:
            return None, 0.0, None
        return float(stats["in_flight"]), 0.0, "runtime (in flight now; no ConcurrentExecutions datapoint)"


def _batch_units(live: LiveStage, drain: DrainEstimate) -> float | None:
    """A full batch in write units: the mapping's batch size x updates per message x WCU per update."""
    if not live.tuning.batch_size:
        return None
    return live.tuning.batch_size * drain.mix.updates_per_message * drain.units_per_update


@dataclass(frozen=True, slots=True)
class Change:
    """What ``nicelist tune --concurrency N`` would do (reserved kept when larger), or why it refuses."""

    wanted: StageTuning
    steps: list[Step]
    refused: list[str]


def tune_steps(live: LiveStage, after: int, settle: float, backend: Backend) -> Change:
    """The tune to ``after`` executions. Lowering C waits ``settle`` once the executions are down (see
    the module's doc)."""
    tuning = live.tuning
    if tuning.pollers is not None:
        raise TuneError("--auto sets the mapping's maximum concurrency: the mapping is in provisioned poller mode")
    reserved = None if tuning.reserved is None else max(tuning.reserved, after)
    wanted = target_of(tuning, TuneRequest(concurrency=after, reserved=reserved))
    if refused := tuning_findings(wanted, live.facts):
        return Change(wanted, [], [finding.line() for finding in refused])
    steps = backend.prepare(plan_steps(tuning, wanted, settle))
    lowered = [i for i, step in enumerate(steps) if step.action == "writer-concurrency" and _lowers(step)]
    if lowered and settle > 0:
        why = "until every invocation started under the larger maximum has ended (timeout + cache)"
        steps.insert(lowered[0], Step("wait", None, settle, why))
    return Change(wanted, steps, [])


def _lowers(step: Step) -> bool:
    return step.before is not None and step.after is not None and step.after < step.before


@dataclass
class AutoRun:
    """The loop of ``nicelist tune --auto``: decide, apply (unless ``dry_run``), print."""

    reader: SignalReader
    controller: Autoscaler
    backend: Backend
    read_back: ReadBack
    sleep: Callable[[float], None]
    settle: float | None
    dry_run: bool
    as_json: bool = False

    def step(self) -> bool:
        """One step; False when a change was refused or did not read back."""
        live, signals, sources = self.reader.read()
        decision = self.controller.decide(signals)
        record: dict[str, Any] = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "stage": live.facts.stage,
            "action": decision.action,
            "before": decision.before,
            "after": decision.after,
            "reasons": list(decision.reasons),
            "signals": {**signals.as_dict(), **sources},
            "applied": False,
            "steps": [],
            "refused": [],
            "not_applied": [],
        }
        if decision.action != "hold" and not self.dry_run:
            self._apply(live, decision, record)
        self._print(record)
        return not (record["refused"] or record["not_applied"])

    def _apply(self, live: LiveStage, decision: Decision, record: dict[str, Any]) -> None:
        settle = live.facts.settle_seconds if self.settle is None else self.settle
        change = tune_steps(live, decision.after, settle, self.backend)
        record["refused"] = change.refused
        if change.refused:
            return
        execute(change.steps, self.backend, sleep=self.sleep, progress=self._progress)
        _, wrong = self.read_back(self.backend, change.wanted, self.sleep)
        record.update(applied=True, steps=[step.as_dict() for step in change.steps], not_applied=wrong)
        self.controller.changed(self.reader.clock())

    def skipped(self, error: Exception) -> None:
        at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        if self.as_json:
            click.echo(json.dumps({"at": at, "action": "skipped", "error": str(error)}, sort_keys=True))
        else:
            click.echo(f"{at} skipped this step: {error}")

    def _progress(self, step: Step) -> None:
        if not self.as_json:
            click.echo(f"  ... {step.describe()}", err=True)

    def _print(self, record: dict[str, Any]) -> None:
        if self.as_json:
            click.echo(json.dumps(record, sort_keys=True, default=str))
            return
        signals = record["signals"]
        decision = Decision(record["action"], record["before"], record["after"], tuple(record["reasons"]))
        suffix = " (dry run)" if self.dry_run and decision.action != "hold" else ""
        click.echo(f"{record['at']} {record['stage']} {decision.line()}{suffix}")
        click.echo(
            f"    backlog {signals['backlog']}, rate {signals['measured_rate']} WCU/s ({signals['rate_by']}) of W "
            f"{signals['budget']}, throttles {signals['throttles']}, busy {signals['busy']} ({signals['busy_by']})"
        )
        for line in record["refused"]:
            click.echo(f"    refused: {line}")
        for line in record["not_applied"]:
            click.echo(f"    NOT APPLIED {line}")


def run_auto(
    target: AwsTarget, values: dict[str, Any], backend: Backend, read_back: ReadBack, sleep: Callable[[float], None]
) -> None:
    """``nicelist tune --auto``: until Ctrl-C, or one step with ``--once``. Exit 1 when a step's change
    was refused or did not read back."""
    policy = policy_from(values)
    meter_url = values["meter_url"] or (LOCAL_METER_URL if target.is_local else None)
    given = values["updates_per_message"]
    reader = SignalReader(
        target, backend, policy, meter_url, values["control_url"], given, None if given else writer_mix(target)
    )
    run = AutoRun(reader, Autoscaler(policy), backend, read_back, sleep, values["settle_seconds"], values["dry_run"])
    run.as_json = values["as_json"]
    if values["once"]:
        if not run.step():
            raise SystemExit(1)
        return
    failed = False
    try:
        while True:
            try:
                failed = not run.step() or failed
            except (StageUnavailable, ClientError, BotoCoreError) as error:
                # A controller outlives a moment without AWS or the runtime: the next step reads afresh
                # (every intermediate state of a tune is safe, so an interrupted change is too).
                run.skipped(error)
            sleep(values["interval"])
    except KeyboardInterrupt:
        click.echo("stopped (Ctrl-C)", err=True)
    if failed:
        raise SystemExit(1)
