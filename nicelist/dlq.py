"""``nicelist dlq``: look at dead letters and move them back to the queue.

Redrive prefers SQS's own ``StartMessageMoveTask``. moto does not implement it (and an operator
may lack the permission), so the fallback moves messages by receive → send → delete, deleting
a message from the DLQ only after SQS confirmed the send: a failure leaves it in the DLQ,
never loses it. A crash between send and delete duplicates a message; the writer is idempotent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import click
from botocore.exceptions import ClientError

from contract.names import StageNames, queue_url
from nicelist.console import aws_errors, emit, error_code
from nicelist.options import AwsTarget, aws_options

ERROR_ATTRIBUTE = "nicelist-error"


class RedriveError(RuntimeError):
    """A send failed as a whole; nothing of that batch was deleted."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    sent_at: str
    receive_count: int
    reason: str
    body: str | None


def peek(sqs: Any, dlq_url: str, limit: int, *, show_bodies: bool) -> list[DeadLetter]:
    """Receive up to ``limit`` dead letters, then make them visible again at once."""
    letters: dict[str, DeadLetter] = {}
    handles: list[str] = []
    while len(letters) < limit:
        messages = _receive(sqs, dlq_url, min(10, limit - len(letters)), visibility=30, wait=1)
        if not messages:
            break
        for m in messages:
            handles.append(m["ReceiptHandle"])
            attribute = m.get("MessageAttributes", {}).get(ERROR_ATTRIBUTE, {})
            letters[m["MessageId"]] = DeadLetter(
                message_id=m["MessageId"],
                sent_at=m.get("Attributes", {}).get("SentTimestamp", ""),
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                reason=attribute.get("StringValue", "(no reason: moved by SQS after maxReceiveCount)"),
                body=m["Body"] if show_bodies else None,
            )
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=entries)
    return list(letters.values())


def _receive(sqs: Any, url: str, count: int, *, visibility: int, wait: int) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=count,
        VisibilityTimeout=visibility,
        WaitTimeSeconds=wait,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return list(response.get("Messages", []))


@dataclass(slots=True)
class RedriveReport:
    method: str  # "move-task" | "receive-send-delete"
    moved: int = 0
    failed: int = 0
    task_handle: str | None = None
    notes: list[str] = field(default_factory=list)


def _kept_attributes(message: dict[str, Any]) -> dict[str, Any]:
    """Message attributes to carry back, minus our DLQ reason (it no longer applies)."""
    kept = {}
    for name, value in message.get("MessageAttributes", {}).items():
        if name == ERROR_ATTRIBUTE:
            continue
        kept[name] = {k: v for k, v in value.items() if k in {"DataType", "StringValue", "BinaryValue"}}
    return kept


def redrive_by_copy(
    sqs: Any, dlq_url: str, queue_url: str, limit: int | None = None, *, wait: int = 1
) -> RedriveReport:
    """Move dead letters back by receive → send → delete; delete only what SQS confirmed sent."""
    report = RedriveReport(method="receive-send-delete")
    while limit is None or report.moved + report.failed < limit:
        room = 10 if limit is None else min(10, limit - report.moved - report.failed)
        messages = _receive(sqs, dlq_url, room, visibility=60, wait=wait)
        if not messages:
            break
        entries = [
            {"Id": str(i), "MessageBody": m["Body"], "MessageAttributes": _kept_attributes(m)}
            for i, m in enumerate(messages)
        ]
        try:
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except ClientError as error:
            raise RedriveError(
                f"send failed after {report.moved} moved ({error_code(error)}); "
                f"the {len(messages)} messages in flight stay in the DLQ"
            ) from error
        sent = [messages[int(ok["Id"])] for ok in response.get("Successful", [])]
        for failure in response.get("Failed", []):
            report.notes.append(f"{messages[int(failure['Id'])]['MessageId']}: {failure.get('Code')}")
        report.failed += len(response.get("Failed", []))
        if sent:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(sent)],
            )
        report.moved += len(sent)
    return report


def start_move_task(sqs: Any, dlq_arn: str, queue_arn: str) -> tuple[str | None, str]:
    """Start SQS's own move task; return ``(handle, "")`` or ``(None, why it is unavailable)``.

    Nothing has moved when this fails, so falling back to copying cannot lose or double anything."""
    try:
        response = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn)
    except NotImplementedError:  # moto in-process raises this for StartMessageMoveTask
        return None, "StartMessageMoveTask not implemented by this endpoint"
    except ClientError as error:
        return None, f"StartMessageMoveTask unavailable: {error_code(error)}"
    return str(response["TaskHandle"]), ""


def redrive(sqs: Any, names: StageNames, method: str, limit: int | None) -> RedriveReport:
    """Redrive the stage's DLQ into its queue with ``method``: auto, move-task or copy."""
    dlq_url = queue_url(sqs, names.dlq)
    target_url = queue_url(sqs, names.queue)
    notes: list[str] = []
    if method != "copy" and limit is None:
        arns = [
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            for url in (dlq_url, target_url)
        ]
        handle, why = start_move_task(sqs, arns[0], arns[1])
        if handle is not None:
            return RedriveReport(method="move-task", task_handle=handle)
        if method == "move-task":
            raise RedriveError(why)
        notes.append(why + "; copying instead")
    report = redrive_by_copy(sqs, dlq_url, target_url, limit)
    report.notes[:0] = notes
    return report


@click.group("dlq")
def dlq_group() -> None:
    """Inspect and redrive the stage's dead-letter queue."""


@dlq_group.command("peek")
@aws_options
@click.option("--max-messages", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--show-bodies", is_flag=True, help="Also print message bodies (they hold children's data).")
@click.option("--json", "as_json", is_flag=True, help="Print the dead letters as JSON.")
def peek_command(target: AwsTarget, max_messages: int, show_bodies: bool, as_json: bool) -> None:
    """Show why messages are dead (the `nicelist-error` attribute) without removing them."""
    sqs = target.client("sqs")
    with aws_errors():
        url = queue_url(sqs, StageNames(target.stage).dlq)
        letters = peek(sqs, url, max_messages, show_bodies=show_bodies)
    lines = [f"{d.message_id}  received {d.receive_count}x  {d.reason}" for d in letters]
    lines += [f"    {d.body}" for d in letters if d.body is not None]
    emit([asdict(d) for d in letters], as_json=as_json, lines=lines or ["the DLQ is empty"])


@dlq_group.command("redrive")
@aws_options
@click.option(
    "--method",
    type=click.Choice(["auto", "move-task", "copy"]),
    default="auto",
    show_default=True,
    help="auto: StartMessageMoveTask, falling back to receive/send/delete.",
)
@click.option(
    "--max-messages",
    type=click.IntRange(min=1),
    default=None,
    help="Move at most this many (implies --method copy).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def redrive_command(target: AwsTarget, method: str, max_messages: int | None, as_json: bool) -> None:
    """Move dead letters back to the queue. Exit code 1 if any could not be moved."""
    with aws_errors():
        try:
            report = redrive(target.client("sqs"), StageNames(target.stage), method, max_messages)
        except RedriveError as error:
            raise click.ClickException(str(error)) from error
    if report.task_handle:
        lines = [f"move task started: {report.task_handle}"]
    else:
        lines = [f"moved {report.moved}, failed {report.failed} ({report.method})"]
    emit(asdict(report), as_json=as_json, lines=lines + report.notes)
    if report.failed:
        raise SystemExit(1)
