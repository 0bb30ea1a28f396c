"""Resource names per stage (docs/design.md, "Resources per stage"). Tools and alarms find resources by them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StageNames:
    """Every name a stage owns, derived from the stage alone."""

    stage: str

    @property
    def prefix(self) -> str:
        return f"nicelist-{self.stage}"

    @property
    def queue(self) -> str:
        return f"{self.prefix}-updates"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}-updates-dlq"

    @property
    def table(self) -> str:
        return self.prefix

    @property
    def alarm_topic(self) -> str:
        return f"{self.prefix}-alarms"

    def alarm(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    @property
    def write_rate_parameter(self) -> str:
        return f"/nicelist/{self.stage}/write-rate"

    @property
    def writer_concurrency_parameter(self) -> str:
        """How many writer executions share the budget; read by the writers beside the write rate."""
        return f"/nicelist/{self.stage}/writer-concurrency"

    @property
    def api_keys_parameter(self) -> str:
        return f"/nicelist/{self.stage}/api-keys"

    @property
    def writer_function(self) -> str:
        """zappa names functions ``<project>-<stage>``; the writer's zappa stage is ``<stage>-writer``."""
        return f"nicelist-{self.stage}-writer"

    @property
    def api_function(self) -> str:
        return f"nicelist-{self.stage}-api"


def queue_url(sqs: Any, name: str) -> str:
    """The URL of the queue called ``name`` (one ``GetQueueUrl`` call); SQS's errors pass through."""
    return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])


class LazyQueueUrl:
    """A queue's URL, given or looked up by name on first use and then kept (one lookup per process)."""

    def __init__(self, sqs: Any, url: str = "", name: str = "") -> None:
        if not url and not name:
            raise ValueError("need the queue's URL or name")
        self._sqs = sqs
        self._url = url
        self._name = name

    def __call__(self) -> str:
        if not self._url:
            self._url = queue_url(self._sqs, self._name)
        return self._url
