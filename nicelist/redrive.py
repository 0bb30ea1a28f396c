"""Moving dead letters back to the queue: what the DLQ held when the redrive started, once.

A redrive that simply receives until the DLQ is empty never ends when some messages are invalid for
good: it moves them, the writer dead-letters them again (as new messages), and the loop picks them
up again. So a redrive here

- **snapshots** the DLQ's depth and the time at its start, and stops after that many messages;
  a message sent to the DLQ after the start (``SentTimestamp``, which SQS keeps when its own redrive
  policy moves a message, and which a message the writer dead-letters gets anew) is not touched;
- **selects**: by default it leaves the messages whose ``nicelist-error`` says they can never be
  written (``nicelist.dlq.classify``), or only those whose reason contains ``--reason``, or all;
- **deletes from the DLQ only what SQS confirmed it sent**, so it can be interrupted at any point
  (Ctrl-C stops after the batch in hand; SIGKILL at worst leaves a sent message in the DLQ too, which
  the next run moves again: a duplicate the writer absorbs, never a loss). Messages it received and
  left are held invisible while it runs, so it does not receive them over and over, and are made
  visible again at the end. A re-run snapshots again and continues with what is left.

SQS's own ``StartMessageMoveTask`` (which also moves the count it found at its start) is the fast
path, for ``--all`` only: it cannot select by reason. moto does not implement it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from nicelist.console import error_code
from nicelist.deadletters import ERROR_ATTRIBUTE, KIND_ATTRIBUTE, Verdict, classify, receive, release

# Long enough for one receive → send → delete round; a run killed mid-way gives its messages back
# this long after their receive.
IN_FLIGHT_SECONDS = 60
MOVE_TASK_MAX_RATE = 500  # StartMessageMoveTask's MaxNumberOfMessagesPerSecond upper bound


class RedriveError(RuntimeError):
    """A send failed as a whole; nothing of that batch was deleted."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a redrive moves."""

    everything: bool = False  # --all
    reason: str | None = None  # --reason: a substring of nicelist-error

    def wants(self, verdict: Verdict, reason: str | None) -> bool:
        if self.reason is not None:
            return self.reason.lower() in (reason or "").lower()
        return self.everything or verdict.redrivable

    @property
    def filtered(self) -> bool:
        return self.reason is not None or not self.everything


@dataclass(slots=True)
class RedriveReport:
    method: str  # "move-task" | "receive-send-delete"
    at_start: int = 0  # messages in the DLQ when it started (SQS's approximate count)
    moved: int = 0
    failed: int = 0
    left: dict[str, int] = field(default_factory=dict)  # why -> how many were not moved
    arrived_since_start: int = 0
    in_dlq_now: int | None = None  # SQS's approximate depth at the end (visible + in flight)
    interrupted: bool = False
    task_handle: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def left_total(self) -> int:
        return sum(self.left.values())


Progress = Callable[[RedriveReport], None]


@dataclass
class _Run:
    """The state of one copy redrive: what was decided about which message id."""

    sqs: Any
    dlq_url: str
    queue_url: str
    selection: Selection
    report: RedriveReport
    started_ms: int
    budget: int
    rate: float | None = None
    decided: set[str] = field(default_factory=set)
    held: dict[str, str] = field(default_factory=dict)  # left messages: id -> latest receipt handle
    left: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> int:
        return self.report.moved + self.report.failed + sum(self.left.values())

    def triage(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages of a receive to send now; the rest are held (left, or arrived since the start)."""
        chosen: list[dict[str, Any]] = []
        for message in messages:
            message_id = message["MessageId"]
            if message_id in self.decided:
                if message_id in self.held:  # its hold ran out while we worked: hold it again
                    self.held[message_id] = message["ReceiptHandle"]
                continue
            self.decided.add(message_id)
            if int(message.get("Attributes", {}).get("SentTimestamp", 0)) >= self.started_ms:
                self.report.arrived_since_start += 1
                self.held[message_id] = message["ReceiptHandle"]
                continue
            reason = message.get("MessageAttributes", {}).get(ERROR_ATTRIBUTE, {}).get("StringValue")
            kind = message.get("MessageAttributes", {}).get(KIND_ATTRIBUTE, {}).get("StringValue")
            verdict = classify(reason, kind)
            if self.done + len(chosen) >= self.budget:
                self.held[message_id] = message["ReceiptHandle"]  # beyond the snapshot: the next run's
            elif self.selection.wants(verdict, reason):
                chosen.append(message)
            else:
                self.left[verdict.why if self.selection.reason is None else "reason does not match"] += 1
                self.held[message_id] = message["ReceiptHandle"]
        return chosen

    def move(self, messages: list[dict[str, Any]]) -> None:
        """Send ``messages`` to the queue; delete from the DLQ exactly those SQS confirmed."""
        entries = [
            {"Id": str(i), "MessageBody": m["Body"], "MessageAttributes": _kept_attributes(m)}
            for i, m in enumerate(messages)
        ]
        try:
            response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except ClientError as error:
            raise RedriveError(
                f"send failed after {self.report.moved} moved ({error_code(error)}); "
                f"the {len(messages)} messages in flight stay in the DLQ"
            ) from error
        sent = [messages[int(ok["Id"])] for ok in response.get("Successful", [])]
        for failure in response.get("Failed", []):
            self.report.notes.append(f"{messages[int(failure['Id'])]['MessageId']}: {failure.get('Code')}")
        self.report.failed += len(response.get("Failed", []))
        if sent:
            self._delete(sent)
        self.report.moved += len(sent)

    def _delete(self, sent: list[dict[str, Any]]) -> None:
        response = self.sqs.delete_message_batch(
            QueueUrl=self.dlq_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(sent)],
        )
        for failure in response.get("Failed", []):
            self.report.notes.append(
                f"{sent[int(failure['Id'])]['MessageId']}: sent but not deleted from the DLQ "
                f"({failure.get('Code')}); the next redrive moves it again (a duplicate the writer absorbs)"
            )


def _kept_attributes(message: dict[str, Any]) -> dict[str, Any]:
    """Message attributes to carry back, minus our DLQ reason (it no longer applies)."""
    kept = {}
    for name, value in message.get("MessageAttributes", {}).items():
        if name == ERROR_ATTRIBUTE:
            continue
        kept[name] = {k: v for k, v in value.items() if k in {"DataType", "StringValue", "BinaryValue"}}
    return kept


def depth(sqs: Any, url: str) -> tuple[int, int]:
    """``(visible, in flight)`` of a queue, as SQS approximates them."""
    keys = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=keys)["Attributes"]
    return int(attributes.get(keys[0], 0)), int(attributes.get(keys[1], 0))


def redrive_by_copy(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    limit: int | None = None,
    *,
    selection: Selection | None = None,
    rate: float | None = None,
    wait: int = 1,
    stop: Callable[[], bool] = lambda: False,
    progress: Progress = lambda _: None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> RedriveReport:
    """Move what the DLQ holds now, once, by receive → send → delete (see the module's docstring)."""
    visible, in_flight = depth(sqs, dlq_url)
    report = RedriveReport(method="receive-send-delete", at_start=visible + in_flight)
    if in_flight:
        report.notes.append(
            f"{in_flight} dead letters were in flight at the start (a peek, or an interrupted redrive, holds "
            "them); they are visible again within a minute: run again then"
        )
    budget = report.at_start if limit is None else min(limit, report.at_start)
    run = _Run(sqs, dlq_url, queue_url, selection or Selection(), report, int(clock() * 1000), budget, rate)
    began = clock()
    try:
        _copy_loop(run, wait, stop, progress, lambda: clock() - began, sleep)
    finally:
        report.left = dict(run.left)
        release(sqs, dlq_url, list(run.held.values()))
    report.in_dlq_now = sum(depth(sqs, dlq_url))
    return report


def _copy_loop(
    run: _Run,
    wait: int,
    stop: Callable[[], bool],
    progress: Progress,
    elapsed: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    batch = 10 if run.rate is None else max(1, min(10, int(run.rate)))
    while run.done < run.budget:
        if stop():
            run.report.interrupted = True
            return
        room = min(batch, run.budget - run.done)
        messages = receive(run.sqs, run.dlq_url, room, visibility=IN_FLIGHT_SECONDS, wait=wait)
        if not messages:
            return
        chosen = run.triage(messages)
        if chosen:
            if run.rate is not None:
                sleep(max(0.0, run.report.moved / run.rate - elapsed()))
            run.move(chosen)
        run.report.left = dict(run.left)
        progress(run.report)


def start_move_task(sqs: Any, dlq_arn: str, queue_arn: str, rate: float | None = None) -> tuple[str | None, str]:
    """Start SQS's own move task; return ``(handle, "")`` or ``(None, why it is unavailable)``.

    Nothing has moved when this fails, so falling back to copying cannot lose or double anything."""
    arguments: dict[str, Any] = {"SourceArn": dlq_arn, "DestinationArn": queue_arn}
    if rate is not None:
        arguments["MaxNumberOfMessagesPerSecond"] = max(1, min(MOVE_TASK_MAX_RATE, int(rate)))
    try:
        response = sqs.start_message_move_task(**arguments)
    except NotImplementedError:  # moto in-process raises this for StartMessageMoveTask
        return None, "StartMessageMoveTask not implemented by this endpoint"
    except ClientError as error:
        return None, f"StartMessageMoveTask unavailable: {error_code(error)}"
    return str(response["TaskHandle"]), ""


def move_task_progress(sqs: Any, dlq_arn: str) -> dict[str, Any] | None:
    """The newest move task of the DLQ (status, moved, to move), or None when SQS will not say."""
    try:
        results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
    except (ClientError, NotImplementedError):
        return None
    return dict(results[0]) if results else None
