"""The producers' settings: one frozen object, explicit arguments > ``NICELIST_*`` environment > defaults.

API keys: locally they come from ``NICELIST_API_KEYS`` (comma-separated). In a deployed
stage set ``NICELIST_API_KEYS_PARAMETER`` to the name of an SSM SecureString holding the
comma-separated keys (``/nicelist/<stage>/api-keys`` by convention, see
``contract.names.StageNames.api_keys_parameter``); the API then reads it with decryption on
first use and re-reads it every ``api_keys_cache_seconds`` so keys can be rotated without a
redeploy. When both are set, the union of the two sets of keys is accepted. When neither
is set, every request is refused (fail closed).

AWS endpoint, region and credentials are not here: boto3's own chain resolves them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contract.envelope import DEFAULT_ENVELOPE_BYTES, MAX_SQS_MESSAGE_BYTES
from contract.names import StageNames, queue_url

MIB = 1024 * 1024


def get_queue_url(sqs: Any, stage: str) -> str:
    """The queue URL of a stage, found by its contract-4 name (one ``GetQueueUrl`` call)."""
    return queue_url(sqs, StageNames(stage).queue)


class ProducerSettings(BaseSettings):
    """What the SDK, the enqueue API and ``nicelist send`` read from their environment."""

    model_config = SettingsConfigDict(env_prefix="NICELIST_", frozen=True, extra="ignore")

    stage: str = Field(default="local", pattern=r"^[a-z0-9-]{1,32}$")
    # Empty: resolved with ``get_queue_url`` from the stage's queue name on first use.
    queue_url: str = ""
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(default=(), repr=False)
    api_keys_parameter: str = ""
    api_keys_cache_seconds: float = Field(default=300.0, ge=0)
    max_body_bytes: int = Field(default=MIB, ge=1024)
    envelope_bytes: int = Field(default=DEFAULT_ENVELOPE_BYTES, ge=4096, le=MAX_SQS_MESSAGE_BYTES)
    max_updates_per_envelope: int = Field(default=1000, ge=1)
    max_updates_per_request: int = Field(default=500, ge=1)
    # How long the API keeps retrying SQS within one request before answering 503.
    send_deadline_seconds: float = Field(default=3.0, ge=0)
    retry_after_seconds: int = Field(default=2, ge=1)
    # How far ahead of the API's clock an observed_at may be (NICELIST_MAX_FUTURE_SECONDS); None: no
    # bound, so replays of future dates work. Deployed stages set it, the writer reads the same variable.
    max_future_seconds: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    @field_validator("api_keys")
    @classmethod
    def _no_blank_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(key for key in value if key)
