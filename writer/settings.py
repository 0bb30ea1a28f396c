"""The writer's settings: one frozen object, explicit arguments > ``NICELIST_*`` environment > defaults.

AWS endpoint, region and credentials are not here: boto3's own chain
(``AWS_ENDPOINT_URL``, ``AWS_REGION``, profiles) resolves them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract.delivery import DEFAULT_MAX_RECEIVE_COUNT
from contract.names import StageNames

DEFAULT_DEADLINE_MARGIN_MS = 9500  # why: WriterSettings.deadline_margin_ms
SHORT_TIMEOUT_MARGIN_MS = 4000  # a writer whose timeout cannot hold the margin twice: one quick SQS call


def deadline_margin_seconds(timeout_s: float, margin_ms: int = DEFAULT_DEADLINE_MARGIN_MS) -> float:
    """How long before its timeout a writer stops writing: ``margin_ms`` when the timeout holds it twice
    over (19 s and more at the default); under that, half the timeout but at least 4 s, room for one
    SQS call after a quick last write (a 5 s timeout writes for 1 s, a 10 s one for 5 s). The writer
    applies it to the time its invocation has left; ``plan``, the model and ``tune --auto`` to the
    writer's timeout. A ``margin_ms`` below 4 s is taken as it is."""
    return min(margin_ms, max(SHORT_TIMEOUT_MARGIN_MS, timeout_s * 1000 / 2)) / 1000


def writing_seconds(timeout_s: float) -> float:
    """How long a writer with this timeout writes at most per invocation: its timeout less its margin."""
    return max(0.0, timeout_s - deadline_margin_seconds(timeout_s))


class WriterSettings(BaseSettings):
    """Everything the writer Lambda reads from its environment, resolved once per execution."""

    model_config = SettingsConfigDict(env_prefix="NICELIST_", frozen=True, extra="ignore")

    stage: str = Field(default="local", pattern=r"^[a-z0-9-]{1,32}$")
    table: str = ""
    queue_url: str = ""
    dlq_url: str = ""
    # Table-wide write budget in WCU/s, shared by all concurrent executions. The SSM
    # parameter wins when it is readable; this is the fallback and the local default.
    write_rate: float = Field(default=100.0, gt=0)
    write_rate_parameter: str = ""
    write_rate_cache_seconds: float = Field(default=5.0, ge=0)
    # How many executions share the budget (the mapping's maximum concurrency); the SSM
    # parameter wins when it exists, so a change of concurrency needs no redeploy.
    concurrency: int = Field(default=1, ge=1)
    concurrency_parameter: str = ""
    # Budget an execution idle for part of a second may catch up on within that second (seconds of
    # its share), so the poller's gap between two invocations is not lost; never carried past the second.
    write_burst_seconds: float = Field(default=0.2, ge=0, le=5)
    # How W is split (issue 13, writer/share.py): "live" divides it by the executions running now (leases
    # in the table, clamped to 1..C), so a poller ramp leaves no budget idle; "static" by C alone.
    share_mode: Literal["live", "static"] = "live"
    share_read_seconds: float = Field(default=1.0, ge=0.1, le=10)  # how often the leases are re-read
    track_retention_days: int = Field(default=30, ge=1)
    # How far ahead of now an observed_at may be (seconds); None: no bound (replays of a future date work).
    # The deployed stages set it (zappa_settings.json), the same variable as the API's.
    max_future_seconds: float | None = Field(default=None, gt=0)
    # Stop spending budget this long before the Lambda deadline and hand the rest back. It holds the
    # worst of what follows the last write: a DynamoDB request in flight (connect 1 s + read 2 s, one
    # attempt: DYNAMODB_TIMEOUTS in writer.handler), then one batched deferral call and one backoff call,
    # each made only with sqs_call_reserve_ms left: 3 + 2 x 3.1 = 9.2 s, and 0.3 s to spare. With less, a
    # slow table (moto under load; DynamoDB having a bad minute) used up the time of the SQS calls, and
    # the messages they were for waited out the whole visibility timeout (six Lambda timeouts). A short
    # timeout keeps less (deadline_margin_seconds): it cannot afford the worst case.
    deadline_margin_ms: int = Field(default=DEFAULT_DEADLINE_MARGIN_MS, ge=0)
    # An SQS call is made only while at least this much time is left; the writer's SQS client times out
    # well within it (SQS_TIMEOUTS in writer.handler), so no call outlives the invocation.
    sqs_call_reserve_ms: int = Field(default=3100, ge=0)
    # A message handed back is invisible for a jittered backoff: between half and all of
    # min(cap, base x 2^(receive count - 1)) seconds. Keep the cap at or under the queue's visibility timeout.
    return_backoff_base_seconds: float = Field(default=2.0, gt=0)
    return_backoff_cap_seconds: float = Field(default=300.0, ge=1, le=43_200)
    write_threads: int = Field(default=8, ge=1, le=64)
    max_attempts: int = Field(default=8, ge=1)
    # The queue's redrive maxReceiveCount: a message's last delivery before the DLQ is deferred, not
    # failed, when its writes ran out of budget (it must never reach the DLQ for throttling alone).
    max_receive_count: int = Field(default=DEFAULT_MAX_RECEIVE_COUNT, ge=1)

    @model_validator(mode="after")
    def _derive_names(self) -> WriterSettings:
        names = StageNames(self.stage)
        if not self.table:
            object.__setattr__(self, "table", names.table)
        if not self.write_rate_parameter:
            object.__setattr__(self, "write_rate_parameter", names.write_rate_parameter)
        if not self.concurrency_parameter:
            object.__setattr__(self, "concurrency_parameter", names.writer_concurrency_parameter)
        return self
