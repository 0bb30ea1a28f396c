"""Where the local stack's alarm notifications arrive for a person (docs/design.md, "The local stack").

On AWS a person subscribes an e-mail address to the stage's topic (``nicelist provision
--alarm-email``). Locally ``NotificationInbox`` subscribes an SQS queue of its own,
``nicelist-<stage>-alarm-inbox``, to each stage's alarm topic (moto delivers SNS to SQS in the standard
envelope, ``{"Type": "Notification", "Message": ...}``), receives what arrives and writes each alarm
notification as one JSON line to ``<run dir>/notifications.log``::

    {"time": ..., "alarm": ..., "state": ..., "previous": ..., "reason": ..., "subject": ..., "topic": ...}

(``time`` is the notification's ``StateChangeTime``). ``nicelist up`` prints each line as it arrives,
``nicelist logs`` shows the file (component ``alarms``), the dashboard reads it. A message that is not
an alarm notification (hostile or not) is logged by its size only and deleted.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract.jsonio import BadJson, loads

LOG = logging.getLogger(__name__)
LOG_NAME = "notifications.log"
MAX_BODY_CHARS = 256 * 1024
FIELDS = ("time", "alarm", "state", "previous", "reason")
Notification = dict[str, str]


def inbox_name(stage: str) -> str:
    return f"nicelist-{stage}-alarm-inbox"


def parse_notification(body: str) -> Notification | None:
    """The log line of one SNS delivery of a CloudWatch alarm notification; None for anything else."""
    if len(body) > MAX_BODY_CHARS:
        return None
    try:
        envelope = loads(body)
        message = (
            loads(envelope["Message"])
            if isinstance(envelope, dict) and isinstance(envelope.get("Message"), str)
            else None
        )
    except BadJson:
        return None
    if not isinstance(message, dict):
        return None
    values = {
        "time": message.get("StateChangeTime"),
        "alarm": message.get("AlarmName"),
        "state": message.get("NewStateValue"),
        "previous": message.get("OldStateValue"),
        "reason": message.get("NewStateReason"),
        "subject": envelope.get("Subject") or "",
        "topic": envelope.get("TopicArn") or "",
    }
    if not all(isinstance(value, str) for value in values.values()):
        return None
    return values  # type: ignore[return-value]


class NotificationInbox:
    """Subscribes, then ``poll()`` moves what arrived into the log (and to ``on_notification``)."""

    def __init__(
        self,
        sqs: Any,
        sns: Any,
        log_path: Path,
        on_notification: Callable[[Notification], None] | None = None,
    ) -> None:
        self._sqs, self._sns, self.log_path, self._on_notification = sqs, sns, log_path, on_notification
        self._urls: list[str] = []
        self._lock = threading.Lock()

    def subscribe(self, stage: str, topic_arn: str) -> str:
        """Create the stage's inbox queue and subscribe it to ``topic_arn``; returns the subscription ARN."""
        self.log_path.touch()  # there, if empty: no alarm changed state yet
        url = self._sqs.create_queue(QueueName=inbox_name(stage))["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._urls.append(url)
        subscription: str = self._sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
        return subscription

    def poll(self, wait_seconds: int = 0) -> list[Notification]:
        arrived: list[Notification] = []
        with self._lock:
            for url in self._urls:
                arrived += self._drain(url, wait_seconds)
        return arrived

    def _drain(self, url: str, wait_seconds: int) -> list[Notification]:
        arrived = []
        messages = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        for message in messages.get("Messages", []):
            body = message.get("Body", "")
            line = parse_notification(body)
            if line is None:
                LOG.warning("a message of %d characters in %s is not an alarm notification", len(body), url)
            else:
                self._write(line)
                arrived.append(line)
            self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return arrived

    def _write(self, line: Notification) -> None:
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(line, sort_keys=True) + "\n")
        if self._on_notification is not None:
            self._on_notification(line)


def read_notifications(path: Path) -> list[Notification]:
    """Every line of a notifications log that has the fields (others skipped)."""
    if not path.exists():
        return []
    found = []
    for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            line = loads(text)
        except BadJson:
            continue
        if isinstance(line, dict) and all(isinstance(line.get(key), str) for key in FIELDS):
            found.append(line)
    return found


def describe(line: Notification) -> str:
    """One line for people: ``ALARM  nicelist-local-queue-age (was OK): Threshold Crossed: ...``."""
    return f"{line['state']:<5} {line['alarm']} (was {line['previous']}): {line['reason']}"
