"""``nicelist dlq peek|redrive|purge``: look at dead letters, move them back, or drop them.

**Peek and receive counts.** SQS has no way to look at a message without receiving it, and every
receive adds one to its ``ApproximateReceiveCount``. On the DLQ that count drives nothing: the DLQ
has no redrive policy of its own (``nicelist provision`` creates it without one; ``peek`` checks and
warns if someone added one), and a redrive sends each message to the queue as a new message whose
count starts at 0 again (``StartMessageMoveTask`` does the same). So peek costs no delivery attempt
of any update. It still keeps what it can small: it holds the messages invisible only while it
collects them (``PEEK_HOLD_SECONDS``, so a killed peek gives them back within that), makes them
visible again at once, and shows the count each message had before this peek.

Redrive is in ``nicelist/redrive.py``; why a reason means "never" is in ``nicelist/deadletters.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from typing import Any

import click

from contract.names import StageNames, queue_url
from nicelist.console import aws_errors, emit
from nicelist.deadletters import ERROR_ATTRIBUTE, KIND_ATTRIBUTE, classify, receive, release
from nicelist.options import AwsTarget, aws_options
from nicelist.redrive import (
    RedriveError,
    RedriveReport,
    Selection,
    depth,
    move_task_progress,
    redrive_by_copy,
    start_move_task,
)

PEEK_HOLD_SECONDS = 20

__all__ = ["DeadLetter", "RedriveError", "dlq_group", "peek", "purge", "redrive"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    sent_at: str  # when it was sent to the queue it came from (SQS keeps it when it dead-letters)
    receive_count: int  # receives before this peek
    reason: str | None  # nicelist-error; None: SQS moved it after maxReceiveCount
    redrivable: bool
    why: str
    body: str | None


def _timestamp(milliseconds: str | None) -> str:
    if not milliseconds:
        return ""
    moment = dt.datetime.fromtimestamp(int(milliseconds) / 1000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _letter(message: dict[str, Any], show_bodies: bool) -> DeadLetter:
    attributes = message.get("Attributes", {})
    reason = message.get("MessageAttributes", {}).get(ERROR_ATTRIBUTE, {}).get("StringValue")
    kind = message.get("MessageAttributes", {}).get(KIND_ATTRIBUTE, {}).get("StringValue")
    verdict = classify(reason, kind)
    return DeadLetter(
        message_id=message["MessageId"],
        sent_at=_timestamp(attributes.get("SentTimestamp")),
        receive_count=max(0, int(attributes.get("ApproximateReceiveCount", 1)) - 1),
        reason=reason,
        redrivable=verdict.redrivable,
        why=verdict.why,
        body=message["Body"] if show_bodies else None,
    )


def peek(sqs: Any, dlq_url: str, limit: int, *, show_bodies: bool) -> list[DeadLetter]:
    """Up to ``limit`` dead letters, made visible again before this returns (see the module's docstring)."""
    letters: dict[str, DeadLetter] = {}
    handles: list[str] = []
    try:
        while len(letters) < limit:
            messages = receive(sqs, dlq_url, min(10, limit - len(letters)), visibility=PEEK_HOLD_SECONDS, wait=1)
            if not messages:
                break
            for message in messages:
                handles.append(message["ReceiptHandle"])
                letters.setdefault(message["MessageId"], _letter(message, show_bodies))
    finally:
        release(sqs, dlq_url, handles)
    return list(letters.values())


def redrive_policy(sqs: Any, url: str) -> dict[str, Any] | None:
    """The queue's own redrive policy, or None (what a nicelist DLQ has: its counts drive nothing)."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    policy = attributes.get("RedrivePolicy")
    return dict(json.loads(policy)) if policy else None


def purge(sqs: Any, dlq_url: str) -> int:
    """Purge the DLQ; the number of messages it held (SQS's approximate count) just before."""
    count = sum(depth(sqs, dlq_url))
    sqs.purge_queue(QueueUrl=dlq_url)
    return count


def _arns(sqs: Any, *urls: str) -> list[str]:
    return [sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] for u in urls]


def redrive(
    sqs: Any,
    names: StageNames,
    method: str,
    limit: int | None,
    selection: Selection | None = None,
    **copy_options: Any,
) -> RedriveReport:
    """Redrive the stage's DLQ into its queue with ``method`` (auto, move-task or copy).

    The move task is used only when it can do what was asked: everything, no limit."""
    selection = selection or Selection(everything=True)
    dlq_url = queue_url(sqs, names.dlq)
    target_url = queue_url(sqs, names.queue)
    notes: list[str] = []
    if method != "copy" and limit is None and not selection.filtered:
        dlq_arn, queue_arn = _arns(sqs, dlq_url, target_url)
        at_start = sum(depth(sqs, dlq_url))
        handle, why = start_move_task(sqs, dlq_arn, queue_arn, copy_options.get("rate"))
        if handle is not None:
            return RedriveReport(method="move-task", at_start=at_start, task_handle=handle)
        if method == "move-task":
            raise RedriveError(why)
        notes.append(why + "; copying instead")
    elif method == "move-task":
        raise RedriveError("the move task moves everything: it cannot take --reason or --max-messages; pass --all")
    report = redrive_by_copy(sqs, dlq_url, target_url, limit, selection=selection, **copy_options)
    report.notes[:0] = notes
    return report


@click.group("dlq")
def dlq_group() -> None:
    """Inspect, redrive and purge the stage's dead-letter queue."""


@dlq_group.command("peek")
@aws_options
@click.option("--max-messages", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--show-bodies", is_flag=True, help="Also print message bodies (they hold children's data).")
@click.option("--json", "as_json", is_flag=True, help="Print the dead letters as JSON.")
def peek_command(target: AwsTarget, max_messages: int, show_bodies: bool, as_json: bool) -> None:
    """Show why messages are dead (the `nicelist-error` attribute) without removing them.

    Receive counts on the DLQ drive nothing (it has no redrive policy), so peeking costs no update a
    delivery attempt; each line shows the count the message had before this peek."""
    sqs = target.client("sqs")
    with aws_errors():
        url = queue_url(sqs, StageNames(target.stage).dlq)
        policy = redrive_policy(sqs, url)
        letters = peek(sqs, url, max_messages, show_bodies=show_bodies)
    if policy is not None:
        click.echo(
            f"warning: this DLQ has a redrive policy of its own ({policy}): each peek counts one receive", err=True
        )
    lines = [f"{len(letters)} dead letter{'s' if len(letters) != 1 else ''}"]
    for d in letters:
        verdict = "redrivable" if d.redrivable else "never    "
        lines.append(f"{d.message_id}  sent {d.sent_at}  received {d.receive_count}x before  {verdict}  {d.why}")
        lines.append(f"    {d.reason or '(no nicelist-error)'}")
        if d.body is not None:
            lines.append(f"    body: {d.body}")
    emit([asdict(d) for d in letters], as_json=as_json, lines=lines if letters else ["the DLQ is empty"])


class _Progress:
    """One line on stderr at most once a second while a redrive runs."""

    def __init__(self, enabled: bool, every: float = 1.0) -> None:
        self.enabled, self.every, self._last = enabled, every, 0.0

    def __call__(self, report: RedriveReport) -> None:
        now = time.monotonic()
        if self.enabled and now - self._last >= self.every:
            self._last = now
            click.echo(
                f"redrive: {report.moved} moved, {report.left_total} left, {report.failed} failed "
                f"of {report.at_start} at the start",
                err=True,
            )


@contextmanager
def _stop_on_signal() -> Iterator[threading.Event]:
    """Ctrl-C (or SIGTERM) stops after the batch in hand; a second Ctrl-C stops at once."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        click.echo("stopping after the batch in hand (Ctrl-C again to stop at once)", err=True)

    previous: dict[signal.Signals, Any] = {}
    with suppress(ValueError):  # not the main thread: no handlers, Ctrl-C raises as usual
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _report_lines(report: RedriveReport) -> list[str]:
    if report.task_handle:
        return [f"move task started for the {report.at_start} dead letters: {report.task_handle}"]
    lines = [f"moved {report.moved} of the {report.at_start} dead letters the DLQ held at the start ({report.method})"]
    if report.left:
        why = ", ".join(f"{count} {reason}" for reason, count in sorted(report.left.items()))
        lines.append(f"left {report.left_total} in the DLQ: {why}")
        lines.append("  (--all moves them anyway; `nicelist dlq purge` drops them)")
    if report.failed:
        lines.append(f"failed {report.failed}: they stay in the DLQ")
    if report.arrived_since_start:
        lines.append(f"{report.arrived_since_start} arrived in the DLQ since the start: left for the next run")
    if report.interrupted:
        lines.append("interrupted: nothing is lost; run the same command again to continue")
    return lines + report.notes


def _watch_move_task(sqs: Any, names: StageNames, report: RedriveReport, interval: float = 2.0) -> None:
    """Follow SQS's move task until it ends; Ctrl-C stops watching, not the task."""
    dlq_arn = _arns(sqs, queue_url(sqs, names.dlq))[0]
    try:
        while (task := move_task_progress(sqs, dlq_arn)) is not None:
            moved, total = (
                task.get("ApproximateNumberOfMessagesMoved", 0),
                task.get("ApproximateNumberOfMessagesToMove"),
            )
            click.echo(f"move task {task.get('Status')}: {moved} of {total} moved", err=True)
            report.moved = int(moved)
            if task.get("Status") != "RUNNING":
                if task.get("FailureReason"):
                    report.notes.append(f"move task failed: {task['FailureReason']}")
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        report.notes.append("stopped watching; the move task keeps running in SQS (`nicelist status` shows the DLQ)")


@dlq_group.command("redrive")
@aws_options
@click.option("--all", "everything", is_flag=True, help="Move every dead letter, also those that can never be written.")
@click.option("--reason", default=None, metavar="TEXT", help="Move only dead letters whose reason contains TEXT.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None, help="At most N messages/s.")
@click.option("--max-messages", type=click.IntRange(min=1), default=None, help="Move at most this many.")
@click.option(
    "--method",
    type=click.Choice(["auto", "move-task", "copy"]),
    default="auto",
    show_default=True,
    help="auto: SQS's StartMessageMoveTask for --all, else receive/send/delete.",
)
@click.option("--no-wait", is_flag=True, help="With the move task: do not wait for it to finish.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def redrive_command(
    target: AwsTarget,
    everything: bool,
    reason: str | None,
    rate: float | None,
    max_messages: int | None,
    method: str,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Move what the DLQ holds now back to the queue, once.

    By default dead letters whose reason says they can never be written (not JSON, invalid updates,
    unknown envelope version, refused by DynamoDB) stay, and the summary says how many and why.
    Interrupt with Ctrl-C at any time and run again to continue: a message leaves the DLQ only after
    SQS confirmed it is in the queue. Exit code 1 if any could not be moved, 130 when interrupted."""
    if everything and reason is not None:
        raise click.UsageError("--all and --reason exclude each other")
    sqs = target.client("sqs")
    names = StageNames(target.stage)
    selection = Selection(everything=everything, reason=reason)
    with aws_errors(), _stop_on_signal() as stop:
        try:
            report = redrive(
                sqs, names, method, max_messages, selection, rate=rate, stop=stop.is_set, progress=_Progress(True)
            )
        except RedriveError as error:
            raise click.ClickException(str(error)) from error
        if report.task_handle and not no_wait:
            _watch_move_task(sqs, names, report)
    emit({**asdict(report), "left_total": report.left_total}, as_json=as_json, lines=_report_lines(report))
    if report.failed:
        raise SystemExit(1)
    if report.interrupted:
        raise SystemExit(130)


@dlq_group.command("purge")
@aws_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def purge_command(target: AwsTarget, yes: bool, as_json: bool) -> None:
    """Delete every dead letter for good (after a confirmation, or --yes)."""
    sqs = target.client("sqs")
    name = StageNames(target.stage).dlq
    with aws_errors():
        url = queue_url(sqs, name)
        count = sum(depth(sqs, url))
        if count and not yes:
            click.confirm(
                f"Delete the {count} dead letters in {name} for good? Their updates are not in the table.",
                abort=True,
                err=True,
            )
        purged = purge(sqs, url) if count else 0
    lines = [f"purged {purged} dead letters from {name}" + (" (SQS finishes within 60 s)" if purged else "")]
    emit({"queue": name, "purged": purged}, as_json=as_json, lines=lines)
