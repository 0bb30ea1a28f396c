"""The local stage as ``nicelist tune`` sees it: the writer runtime's control endpoint (reserved and
maximum concurrency, batch size, window) and the SSM parameters of the embedded AWS.

``LocalStage`` is the backend ``nicelist tune --stage local`` and ``nicelist doctor --stage local``
use, with the same rules and the same order of changes as a deployed stage (``nicelist.tuning``).
``runtime_tune`` is the bare control-endpoint client for a ``WriterRuntime`` started on its own (the
runtime tests): it changes only the runtime, with the runtime's own validation, and is not a
``nicelist`` command."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from contract.names import StageNames
from nicelist.local.control import DEFAULT_CONTROL_URL, ControlError, request
from nicelist.local.stack import StackConfig
from nicelist.options import AwsTarget
from nicelist.tuning.aws import (
    DEFAULT_CACHE_SECONDS,
    backlog,
    parameter,
    put_parameter,
    queue_attributes,
    table_capacity,
    with_write_rate,
)
from nicelist.tuning.model import LiveStage, StageFacts, StageTuning, StageUnavailable
from nicelist.tuning.order import Step
from nicelist.writerate import parameter_text, table_throughput

# The runtime's names for the values a deployed stage keeps on the function and its mapping.
RUNTIME_NAMES = {
    "reserved": "reserved_concurrency",
    "maximum": "maximum_concurrency",
    "batch_size": "batch_size",
    "batching_window": "batching_window_seconds",
}
MERGED = "reserved and maximum together: the runtime applies one change at once"
# `nicelist up` has no option for the writer's timeout: the stack's default is the local writer's.
LOCAL_WRITER_TIMEOUT = StackConfig().writer_timeout


class LocalStage:
    """The backend of ``nicelist tune``/``doctor`` for ``--stage local`` (a running ``nicelist up``)."""

    def __init__(
        self, target: AwsTarget, control_url: str = DEFAULT_CONTROL_URL, client: Callable[[str], Any] | None = None
    ) -> None:
        """``client``: makes a client of the embedded AWS for a service name (default: the target's own)."""
        client = client or target.client
        self.stage = target.stage
        self.names = StageNames(target.stage)
        self.control_url = control_url
        self._sqs = client("sqs")
        self._ssm = client("ssm")
        self._dynamodb = client("dynamodb")

    def _runtime(self, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = request(self.control_url, "/tuning", changes)
        except ControlError as error:
            raise StageUnavailable(f"{error} (is `nicelist up` running? see --control-url)") from error
        return answer

    def read(self) -> LiveStage:
        runtime = self._runtime()
        shared_by = parameter(self._ssm, self.names.writer_concurrency_parameter)
        queue = queue_attributes(self._sqs, self.names.queue)
        tuning = StageTuning(
            reserved=runtime["reserved_concurrency"],
            maximum=runtime["maximum_concurrency"],
            writer_concurrency=None if shared_by is None else int(shared_by),
            batch_size=runtime["batch_size"],
            batching_window=float(runtime["batching_window_seconds"]),
        )
        throughput = table_throughput(self._dynamodb, self.names.table)
        tuning = with_write_rate(tuning, parameter(self._ssm, self.names.write_rate_parameter), throughput)
        facts = StageFacts(
            stage=self.stage,
            deployed=False,
            writer_timeout=LOCAL_WRITER_TIMEOUT,
            cache_seconds=DEFAULT_CACHE_SECONDS,
            table_capacity=table_capacity(self._dynamodb, self.names.table),
            table_ceiling=None if throughput is None else throughput.ceiling,
            visibility_timeout=int(queue["VisibilityTimeout"]) if queue else None,
            backlog=backlog(queue),
        )
        return LiveStage(tuning, facts)

    def prepare(self, steps: list[Step]) -> list[Step]:
        """Adjacent reserved and mapping steps become one change of the runtime: it applies them at once,
        and the stack re-writes C with each change, so two changes would let C dip between them."""
        prepared: list[Step] = []
        for step in steps:
            if step.action not in {"reserved", "mapping"}:
                prepared.append(step)
                continue
            before, after = _runtime_values(step)
            last = prepared[-1] if prepared else None
            if last is not None and last.action == "runtime":
                # the earlier step's "before" wins (it is the value before both); keys keep the first order
                before = {**last.before, **{k: v for k, v in before.items() if k not in last.before}}
                after = {**last.after, **after}
                prepared[-1] = Step("runtime", before, after, MERGED)
            else:
                prepared.append(Step("runtime", before, after, step.why))
        return prepared

    def apply(self, step: Step) -> None:
        if step.action == "write-rate":
            put_parameter(self._ssm, self.names.write_rate_parameter, parameter_text(step.after))
        elif step.action == "writer-concurrency":
            put_parameter(self._ssm, self.names.writer_concurrency_parameter, str(step.after))
        elif step.action == "runtime":
            self._runtime(dict(step.after))
        else:
            raise ValueError(f"the local runtime has no step {step.action!r}")


def _runtime_values(step: Step) -> tuple[dict[str, Any], dict[str, Any]]:
    if step.action == "reserved":
        return {"reserved_concurrency": step.before}, {"reserved_concurrency": step.after}
    return (
        {RUNTIME_NAMES[name]: value for name, value in step.before.items()},
        {RUNTIME_NAMES[name]: value for name, value in step.after.items()},
    )


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


@click.command("runtime-tune")
@click.option("--control-url", default=DEFAULT_CONTROL_URL, show_default=True, envvar="NICELIST_CONTROL_URL")
@click.option("--reserved-concurrency", type=click.IntRange(min=0), help="The function's reserved concurrency.")
@click.option("--unreserved", is_flag=True, help="Remove the reserved concurrency.")
@click.option("--max-concurrency", type=click.IntRange(min=1), help="The mapping's maximum concurrency.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), help="Records per invocation.")
@click.option("--batching-window", type=click.FloatRange(0, 300), help="Seconds to gather a batch.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def runtime_tune(
    *,
    control_url: str,
    reserved_concurrency: int | None,
    unreserved: bool,
    max_concurrency: int | None,
    batch_size: int | None,
    batching_window: float | None,
    as_json: bool,
) -> None:
    """Change a bare writer runtime's concurrency and batching live; without options, show them.

    No SSM parameter is written and only the runtime's own limits apply: for a stage, use `nicelist tune`."""
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


# The name the runtime tests import (tests/functional/test_runtime_tuning.py).
tune = runtime_tune
