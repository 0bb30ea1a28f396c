"""Resource names per stage (DESIGN.md, contract 4). Tools and alarms find resources by these names."""

from __future__ import annotations

from dataclasses import dataclass


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
