"""``nicelist tune``: change the local writer runtime's concurrency and batching while it runs."""

from __future__ import annotations

import json
from typing import Any

import click

from nicelist.local.control import DEFAULT_CONTROL_URL, ControlError, request


def _changes(
    *,
    reserved: int | None,
    unreserved: bool,
    maximum: int | None,
    batch_size: int | None,
    window: float | None,
) -> dict[str, Any]:
    if unreserved and reserved is not None:
        raise click.UsageError("--reserved-concurrency and --unreserved exclude each other")
    changes: dict[str, Any] = {}
    if reserved is not None or unreserved:
        changes["reserved_concurrency"] = reserved
    if maximum is not None:
        changes["maximum_concurrency"] = maximum
    if batch_size is not None:
        changes["batch_size"] = batch_size
    if window is not None:
        changes["batching_window_seconds"] = window
    return changes


def _warnings(tuning: dict[str, Any]) -> list[str]:
    reserved = tuning.get("reserved_concurrency")
    if reserved is not None and reserved < tuning["maximum_concurrency"]:
        return [
            f"reserved concurrency {reserved} < maximum concurrency {tuning['maximum_concurrency']}: "
            "Lambda throttles the poller and throttled messages climb towards the DLQ"
        ]
    return []


@click.command("tune")
@click.option(
    "--control-url",
    default=DEFAULT_CONTROL_URL,
    show_default=True,
    envvar="NICELIST_CONTROL_URL",
    help="The writer runtime's control endpoint.",
)
@click.option("--reserved-concurrency", type=click.IntRange(min=0), help="The function's reserved concurrency.")
@click.option("--unreserved", is_flag=True, help="Remove the reserved concurrency.")
@click.option("--max-concurrency", type=click.IntRange(min=1), help="The mapping's maximum concurrency.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), help="Records per invocation.")
@click.option("--batching-window", type=click.FloatRange(0, 300), help="Seconds to gather a batch.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tune(
    *,
    control_url: str,
    reserved_concurrency: int | None,
    unreserved: bool,
    max_concurrency: int | None,
    batch_size: int | None,
    batching_window: float | None,
    as_json: bool,
) -> None:
    """Change the local writer runtime's concurrency and batching live; without options, show them.

    Scaling down lets in-flight invocations finish. Exits non-zero if the runtime refuses or is not running.
    """
    changes = _changes(
        reserved=reserved_concurrency,
        unreserved=unreserved,
        maximum=max_concurrency,
        batch_size=batch_size,
        window=batching_window,
    )
    try:
        tuning = request(control_url, "/tuning", changes) if changes else request(control_url, "/tuning")
        stats = request(control_url, "/stats")
    except ControlError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps({"tuning": tuning, "stats": stats}, indent=2))
    else:
        for name, value in [*tuning.items(), *stats.items()]:
            click.echo(f"{name.replace('_', ' ')}: {'unreserved' if value is None else value}")
    for warning in _warnings(tuning):
        click.echo(f"warning: {warning}", err=True)
