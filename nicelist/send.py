"""``nicelist send``: send a JSON Lines or CSV file of updates (or a synthetic mix) and report.

Invalid lines are rejected up front with their line numbers and reasons; valid ones are
sent straight to SQS (default) or through the enqueue API (``--api URL --api-key K``).
The exit code is non-zero if anything was not sent.

``--api`` takes the API's base URL or its endpoint, as ``nicelist up`` prints it
(``http://127.0.0.1:8080/v1/updates``): the SDK adds ``/v1/updates`` itself. Before sending, one
``GET /v1/health`` checks that a nicelist API answers there, so a wrong URL or a stopped local stack
is one clear error instead of every update retried for half a minute. On this machine the local
stack's key is known (``local-dev-key``), so ``--api-key`` is needed only elsewhere
(``NICELIST_API_KEY`` wins).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import click
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from contract import jsonio
from contract.updates import InvalidUpdate
from nicelist.console import connection_message, is_loopback, not_running_hint
from nicelist.local.stack import StackConfig
from nicelist.options import AwsTarget, aws_options
from producers.exceptions import SendFailed
from producers.packing import Item, to_item
from producers.sdk import Producer
from producers.settings import ProducerSettings
from producers.synthetic import generate

_NUMBERS = ("lat", "lon", "accuracy_m")


@dataclass(slots=True)
class Report:
    """What ``nicelist send`` did, printed as a summary or with ``--json``."""

    total: int = 0
    sent: int = 0
    requests: int = 0
    retried: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    unsent: int = 0
    unsent_reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.unsent

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "sent": self.sent,
            "rejected": self.rejected,
            "unsent": self.unsent,
            "unsent_reasons": self.unsent_reasons,
            "requests": self.requests,
            "retried": self.retried,
        }


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A line that is not even JSON."""

    reason: str


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # left as text: validation rejects it, naming the field


def _csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """CSV cells are text: drop empty ones, turn numeric columns into numbers when they are numbers."""
    update: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or value in (None, ""):
            continue
        update[key] = _number(value) if key in _NUMBERS else value
    return update


def read_records(stream: TextIO, kind: str) -> Iterator[tuple[int, Any]]:
    """``(line number, decoded record)``; a line that is not strict JSON yields an ``Unreadable``.

    Lines are read by ``contract.jsonio``, the reader of the API and the writer, so a file line is
    read exactly as the API would read it (duplicate keys, NaN, deep nesting refused, never a crash)."""
    if kind == "csv":
        reader = csv.DictReader(stream)
        for row in reader:
            yield reader.line_num, _csv_row(row)
        return
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield number, jsonio.loads(line)
        except jsonio.BadJson as error:
            yield number, Unreadable(f"not JSON: {error}")


def validate(records: Iterator[tuple[int, Any]], report: Report) -> list[Item]:
    items: list[Item] = []
    for number, record in records:
        report.total += 1
        if isinstance(record, Unreadable):
            report.rejected.append({"line": number, "reasons": [record.reason]})
            continue
        try:
            items.append(to_item(record))
        except InvalidUpdate as invalid:
            report.rejected.append({"line": number, "reasons": [str(e) for e in invalid.errors]})
    return items


ENDPOINT_PATH = "/v1/updates"
LOCAL_API_KEY = StackConfig().api_key


def api_base(url: str) -> str:
    """The API's base URL from the base or the endpoint URL (the SDK appends ``/v1/updates``)."""
    base = url.strip().rstrip("/")
    return base[: -len(ENDPOINT_PATH)] if base.endswith(ENDPOINT_PATH) else base


def check_api(base: str, timeout: float = 5.0) -> None:
    """Fail fast, with what to do, when no nicelist API answers ``GET /v1/health`` at ``base``."""
    try:
        with urllib.request.urlopen(f"{base}/v1/health", timeout=timeout):  # noqa: S310 - the operator's URL
            return
    except urllib.error.HTTPError as error:
        if error.code == 503:  # the API is there; SQS is not (yet): sends are retried
            return
        raise click.ClickException(
            f"no nicelist API at {base}: GET /v1/health answered HTTP {error.code} "
            f"(give the URL `nicelist up` prints, with or without {ENDPOINT_PATH})"
        ) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        hint = f": {not_running_hint(base, '--api with its URL')}" if is_loopback(base) else ""
        raise click.ClickException(f"cannot reach the API at {base} ({reason}){hint}") from None


def _producer(target: AwsTarget, api: str | None, api_key: str | None, queue_url: str | None) -> Producer:
    if api:
        base = api_base(api)
        if not api_key:
            if not is_loopback(base):
                raise click.UsageError("--api needs --api-key (or NICELIST_API_KEY)")
            api_key = LOCAL_API_KEY  # the local stack's key
        check_api(base)
        return Producer.from_api(base, api_key, background=False)
    settings = ProducerSettings(stage=target.stage)
    try:
        return Producer.from_sqs(target.client("sqs"), queue_url, settings=settings, background=False)
    except EndpointConnectionError as error:
        raise click.ClickException(connection_message(error)) from None
    except (ClientError, BotoCoreError) as error:
        raise click.ClickException(f"cannot find the queue of stage {target.stage!r}: {error}") from None


def send_items(producer: Producer, items: list[Item], report: Report, console: Console) -> None:
    """Send in transport-sized chunks: the bar moves with confirmed updates, a failure stops nothing else."""
    failures: list[SendFailed] = []
    producer.on_failure = failures.append
    step = max(1, producer.transport.max_updates)
    columns = (TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("send", total=len(items))
        for start in range(0, len(items), step):
            producer.add_many(item.update for item in items[start : start + step])
            producer.flush()
            progress.advance(task, min(step, len(items) - start))
    producer.close()
    report.sent, report.requests, report.retried = (
        producer.stats.updates,
        producer.stats.requests,
        producer.stats.retries,
    )
    report.unsent = sum(len(failure.unsent) for failure in failures)
    report.unsent_reasons = list(dict.fromkeys(reason for failure in failures for reason in failure.reasons))


def _print_summary(report: Report, console: Console) -> None:
    console.print(
        f"sent {report.sent} of {report.total} updates in {report.requests} requests "
        f"({report.retried} retried); rejected {len(report.rejected)}; not sent {report.unsent}"
    )
    for rejected in report.rejected[:20]:
        console.print(f"  line {rejected['line']}: {'; '.join(rejected['reasons'])}", markup=False)
    if len(report.rejected) > 20:
        console.print(f"  ... and {len(report.rejected) - 20} more (--json lists all)")
    for reason in report.unsent_reasons:
        console.print(f"  not sent: {reason}", markup=False)


@click.command("send")
@click.argument("file", type=click.File("r", encoding="utf-8"), required=False)
@click.option("--format", "kind", type=click.Choice(["auto", "jsonl", "csv"]), default="auto", show_default=True)
@click.option("--generate", "count", type=click.IntRange(min=1), help="Send N synthetic updates instead of a file.")
@click.option("--children", type=click.IntRange(min=1), default=1000, show_default=True, help="With --generate.")
@click.option("--seed", type=int, default=0, show_default=True, help="With --generate.")
@click.option("--invalid", type=click.IntRange(min=0), default=0, show_default=True, help="Break N generated updates.")
@click.option(
    "--api",
    "api",
    default=None,
    help="Send through the enqueue API at this URL (base or .../v1/updates) instead of SQS.",
)
@click.option(
    "--api-key",
    envvar="NICELIST_API_KEY",
    default=None,
    help="With --api (env NICELIST_API_KEY; on this machine default: the local stack's key).",
)
@click.option("--queue-url", envvar="NICELIST_QUEUE_URL", default=None, help="Default: the stage's queue.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@aws_options
def send(
    *,
    target: AwsTarget,
    file: TextIO | None,
    kind: str,
    count: int | None,
    children: int,
    seed: int,
    invalid: int,
    api: str | None,
    api_key: str | None,
    queue_url: str | None,
    as_json: bool,
) -> None:
    """Send FILE (JSON Lines or CSV) or --generate N synthetic updates; exit 1 if anything was not sent."""
    if (file is None) == (count is None):
        raise click.UsageError("give a FILE or --generate N (one of the two)")
    report = Report()
    if count is not None:
        records: Iterator[tuple[int, Any]] = enumerate(generate(count, children, seed, invalid=invalid), start=1)
    else:
        assert file is not None
        text = file.read()
        name = getattr(file, "name", "")
        is_csv = kind == "csv" or (kind == "auto" and (str(name).endswith(".csv") or text.startswith("kind,")))
        records = read_records(io.StringIO(text), "csv" if is_csv else "jsonl")
    items = validate(records, report)
    console = Console(stderr=True)
    if items:
        send_items(_producer(target, api, api_key, queue_url), items, report, console)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print_summary(report, Console(file=sys.stdout))
    if not report.ok:
        sys.exit(1)
