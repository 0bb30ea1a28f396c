"""``nicelist tune``: change a stage's concurrency, write budget and batching during a peak, on a
deployed stage (Lambda, its SQS mapping, SSM) or on ``--stage local`` (the runtime's control endpoint
and the embedded AWS), through the same validation and the same order of changes (docs/tuning.md).

It refuses what ``nicelist doctor`` would flag, applies in the safe order (``nicelist.tuning.order``),
reads everything back, prints before -> after for each value and the new drain estimate, and with
``--persist`` writes the concurrency into zappa_settings.json so the next ``zappa update`` keeps it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from nicelist.console import aws_errors, emit
from nicelist.drain import MessageMix, estimate, message_mix, updates_per_message_option, writer_mix
from nicelist.local.control import DEFAULT_CONTROL_URL
from nicelist.local.tune import LocalStage
from nicelist.options import AwsTarget, aws_options
from nicelist.plan import PlanError, read_plan
from nicelist.settings_file import DEFAULT_SETTINGS, SettingsFileError, drift_findings, load, persist_concurrency
from nicelist.tuning.autoscale_run import auto_options, run_auto
from nicelist.tuning.aws import AwsStage
from nicelist.tuning.model import (
    LiveStage,
    Pollers,
    StageTuning,
    StageUnavailable,
    TuneError,
    TuneRequest,
    request_errors,
    resolve_auto_rate,
    target_of,
)
from nicelist.tuning.order import Backend, Step, execute, plan_steps
from nicelist.tuning.rules import tuning_findings
from nicelist.writerate import WRITE_RATE, shown
from writer.autorate import AutoRate, FixedRate

READ_BACK_ATTEMPTS = 5  # a mapping being updated may answer with its old values for a few seconds
READ_BACK_INTERVAL = 2.0
_LABELS = {
    "reserved": "reserved concurrency",
    "maximum": "maximum concurrency",
    "pollers": "provisioned pollers",
    "writer_concurrency": "writer concurrency (C)",
    "write_rate": "write rate (W, WCU/s)",
    "batch_size": "batch size",
    "batching_window": "batching window (s)",
    "write_rate_auto": "write rate auto (F)",
}


def backend_for(target: AwsTarget, control_url: str) -> AwsStage | LocalStage:
    """The stage called ``local`` is the local stack; every other stage is deployed."""
    return LocalStage(target, control_url) if target.stage == "local" else AwsStage(target)


def request_from(values: dict[str, Any]) -> TuneRequest:
    """The request the options (or ``--plan FILE``) make."""
    pollers_text = values["pollers"]
    rate = values["write_rate"]  # FixedRate | AutoRate | None (nicelist.writerate.WRITE_RATE)
    request = TuneRequest(
        concurrency=values["concurrency"],
        reserved=values["reserved_concurrency"],
        unreserved=values["unreserved"],
        write_rate=rate.wcu if isinstance(rate, FixedRate) else None,
        write_rate_auto=rate.fraction if isinstance(rate, AutoRate) else None,
        batch_size=values["batch_size"],
        batching_window=values["batching_window"],
        pollers=None if pollers_text in (None, "off") else Pollers.parse(pollers_text),
        pollers_off=pollers_text == "off",
    )
    if values["plan_file"] is None:
        return request
    if not request.empty:
        raise TuneError("--plan applies a whole plan: give no other tuning option with it")
    planned = read_plan(values["plan_file"])
    values["plan_mix"] = planned["updates_per_message"]  # the plan's own assumption, for the estimate
    return TuneRequest(
        concurrency=int(planned["concurrency"]),
        write_rate=float(planned["write_rate"]),
        batch_size=int(planned["batch_size"]),
        batching_window=float(planned["batching_window"]),
    )


def drain_estimate(live: LiveStage, mix: MessageMix) -> dict[str, Any]:
    """Backlog / W (``nicelist.drain``): what the new budget would give, before anything is measured at it."""
    facts = live.facts
    return estimate(
        facts.backlog, mix, measured=None, budget=live.tuning.write_rate, capacity=facts.table_capacity
    ).as_dict()


def read_back(
    backend: Backend, target: StageTuning, sleep: Callable[[float], None], attempts: int = READ_BACK_ATTEMPTS
) -> tuple[LiveStage, list[str]]:
    """Read the stage again until it shows the target (or the attempts run out); return the differences."""
    for attempt in range(attempts):
        after = backend.read()
        wrong = [
            f"{_LABELS[name]} reads {got} after the tune, not {wanted}"
            for name, wanted in target.as_dict().items()
            if (got := after.tuning.as_dict()[name]) != wanted
        ]
        if not wrong or attempt == attempts - 1:
            return after, wrong
        sleep(READ_BACK_INTERVAL)
    raise AssertionError("unreachable")


def _shown(values: dict[str, Any], name: str) -> str:
    """One value as printed; W in auto mode as ``auto (0.95 x 400 WCU = 380)``."""
    if name == "write_rate" and values.get("write_rate_auto") is not None:
        return shown(values["write_rate"], values["write_rate_auto"])
    return _value(values[name])


def _value(value: Any) -> str:
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def comparison(before: StageTuning, after: StageTuning) -> list[str]:
    old, new = before.as_dict(), after.as_dict()
    return [
        f"  {_LABELS[name]:<26} {_shown(old, name)} -> {_shown(new, name)}"
        + ("" if old[name] != new[name] else "  (unchanged)")
        for name in _LABELS
    ]


def _settings_warning(values: dict[str, Any], live: LiveStage, after: StageTuning) -> list[str]:
    if not live.facts.deployed or values["persist"]:
        return []
    try:
        document = load(values["settings_path"])
    except SettingsFileError as error:
        return [f"cannot compare with the settings file: {error}"]
    return [finding.line() for finding in drift_findings(document, live.facts.stage, after)]


def _persisted_line(persisted: dict[str, Any]) -> str:
    reserved, shared_by = persisted["lambda_concurrency"], persisted["NICELIST_CONCURRENCY"]
    return (
        f"lambda_concurrency {reserved[0]} -> {reserved[1]}, NICELIST_CONCURRENCY {shared_by[0]!r} -> {shared_by[1]!r}"
    )


def _persist(values: dict[str, Any], live: LiveStage, after: StageTuning) -> dict[str, Any] | None:
    if not values["persist"]:
        return None
    if not live.facts.deployed:
        raise TuneError("--persist: stage local has no zappa settings")
    shared_by = after.maximum if after.pollers is None else after.reserved
    if after.reserved is None or shared_by is None:
        raise TuneError("--persist: the stage has no reserved or maximum concurrency to write")
    persisted = persist_concurrency(values["settings_path"], live.facts.stage, after.reserved, shared_by)
    return {
        "path": persisted.path,
        "stage": persisted.stage,
        "lambda_concurrency": list(persisted.lambda_concurrency),
        "NICELIST_CONCURRENCY": list(persisted.nicelist_concurrency),
    }


def _mix(target: AwsTarget, values: dict[str, Any]) -> MessageMix:
    """Updates per message for the estimate: given, else the plan's, else measured from the writers' logs."""
    if values["updates_per_message"] is None and values.get("plan_mix") is not None:
        return MessageMix(values["plan_mix"], "plan")
    logged = writer_mix(target)
    return message_mix(values["updates_per_message"], logged, dt.datetime.now(dt.UTC))


def run_tune(target: AwsTarget, values: dict[str, Any], sleep: Callable[[float], None]) -> None:
    backend = backend_for(target, values["control_url"])
    request = request_from(values)
    live = backend.read()
    if errors := request_errors(request, live):
        raise click.UsageError("; ".join(errors))
    values["mix"] = _mix(target, values)  # after the usage errors: the paths below print the estimate
    if request.empty and not values["persist"]:
        _show(live, values)
        return
    wanted = resolve_auto_rate(target_of(live.tuning, request), live.facts)
    refused = tuning_findings(wanted, live.facts, force=values["force"])
    if refused:
        lines = [f"refused: {finding.line()}" for finding in refused]
        emit({"refused": [f.as_dict() for f in refused]}, as_json=values["as_json"], lines=lines)
        raise SystemExit(1)
    settle = live.facts.settle_seconds if values["settle_seconds"] is None else values["settle_seconds"]
    steps = backend.prepare(plan_steps(live.tuning, wanted, settle))
    if values["dry_run"]:
        _report(live, live.tuning, wanted, steps, values, applied=False)
        return

    def progress(step: Step) -> None:
        if not values["as_json"]:
            click.echo(f"  ... {step.describe()}", err=True)

    execute(steps, backend, sleep=sleep, progress=progress)
    after, wrong = read_back(backend, wanted, sleep)
    persisted = _persist(values, live, after.tuning)
    _report(after, live.tuning, after.tuning, steps, values, applied=True, wrong=wrong, persisted=persisted)
    if wrong:
        raise SystemExit(1)


def _show(live: LiveStage, values: dict[str, Any]) -> None:
    findings = tuning_findings(live.tuning, live.facts)
    drain = drain_estimate(live, values["mix"])
    lines = [f"stage {live.facts.stage}:"]
    tuning = live.tuning.as_dict()
    lines += [f"  {_LABELS[name]:<26} {_shown(tuning, name)}" for name in tuning]
    lines += [drain["line"], *[f"PROBLEM {finding.line()}" for finding in findings]]
    data = {"stage": live.facts.stage, "tuning": live.tuning.as_dict(), "drain": drain}
    emit({**data, "findings": [f.as_dict() for f in findings]}, as_json=values["as_json"], lines=lines)
    if findings:
        raise SystemExit(1)


def _report(
    live: LiveStage,
    before: StageTuning,
    after: StageTuning,
    steps: list[Step],
    values: dict[str, Any],
    *,
    applied: bool,
    wrong: list[str] | None = None,
    persisted: dict[str, Any] | None = None,
) -> None:
    drain = drain_estimate(LiveStage(after, live.facts), values["mix"])
    warnings = _settings_warning(values, live, after) if applied else []
    title = "tuned" if applied else "would tune (dry run)"
    lines = [f"stage {live.facts.stage}: {title}", *comparison(before, after)]
    lines += ["steps, in this order:"] + [f"  {i}. {step.describe()}" for i, step in enumerate(steps, 1)]
    lines += [drain["line"]] + [f"NOT APPLIED {line}" for line in wrong or []]
    if persisted is not None:
        lines.append(f"persisted to {persisted['path']} ({persisted['stage']}): " + _persisted_line(persisted))
    lines += [f"warning: {line}" for line in warnings]
    data = {
        "stage": live.facts.stage,
        "applied": applied,
        "before": before.as_dict(),
        "after": after.as_dict(),
        "steps": [step.as_dict() for step in steps],
        "drain": drain,
        "not_applied": wrong or [],
        "persisted": persisted,
        "warnings": warnings,
    }
    emit(data, as_json=values["as_json"], lines=lines)


@click.command("tune")
@aws_options
@click.option(
    "--concurrency",
    "--max-concurrency",
    "concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="N writer executions: reserved = the mapping's maximum = C = N.",
)
@click.option(
    "--reserved-concurrency",
    type=click.IntRange(min=0),
    default=None,
    help="Reserved concurrency alone (>= the maximum; with --pollers, >= 10 x MAX).",
)
@click.option("--unreserved", is_flag=True, help="Local runtime only: remove its reserved concurrency.")
@click.option(
    "--write-rate",
    type=WRITE_RATE,
    default=None,
    help="W, WCU/s; or auto[:F]: F (default 0.97) x the table's capacity, followed as auto scaling changes it.",
)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=None, help="Messages per invocation.")
@click.option("--batching-window", type=click.FloatRange(0, 300), default=None, help="Seconds to gather a batch.")
@click.option(
    "--pollers",
    default=None,
    metavar="MIN:MAX|off",
    help="AWS only: provisioned poller mode instead of maximum concurrency (off: back).",
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Apply a plan written by `nicelist plan --json`.",
)
@click.option("--force", is_flag=True, help="Allow a write rate above the table's provisioned WCU.")
@click.option("--persist", is_flag=True, help="Write the concurrency into zappa_settings.json (in place).")
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_SETTINGS,
    show_default=True,
    help="zappa's settings file.",
)
@click.option("--dry-run", is_flag=True, help="Print the steps; change nothing.")
@click.option(
    "--settle-seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="Wait after raising C (default: the writer's timeout + its parameter cache).",
)
@updates_per_message_option
@click.option(
    "--control-url",
    default=DEFAULT_CONTROL_URL,
    show_default=True,
    envvar="NICELIST_CONTROL_URL",
    help="--stage local: the writer runtime's control endpoint.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@auto_options  # nicelist tune --auto: the autoscaler for C (nicelist.tuning.autoscale_run)
def tune_command(target: AwsTarget, **values: Any) -> None:  # fmt: skip
    """Change the writers' concurrency, the write rate and batching safely; without options, show them.

    Exit 1 when the change is refused (it would break a rule `nicelist doctor` checks) or does not read back.

    With --auto --max N, an autoscaler changes C alone until Ctrl-C (--once: one step), see docs/tuning.md."""
    try:
        with aws_errors():
            if values["auto"]:  # the autoscaler for C (nicelist.tuning.autoscale_run)
                run_auto(target, values, backend_for(target, values["control_url"]), read_back, time.sleep)
                return
            run_tune(target, values, time.sleep)
    except (StageUnavailable, TuneError, PlanError, SettingsFileError) as error:
        raise click.ClickException(str(error)) from error
