"""API keys, compared in constant time against every configured key.

Keys come from ``NICELIST_API_KEYS`` and/or the SSM SecureString named by
``NICELIST_API_KEYS_PARAMETER`` (read with decryption, cached, re-read after
``api_keys_cache_seconds`` so rotation needs no redeploy).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from producers.exceptions import ProducerError
from producers.settings import ProducerSettings


class KeysUnavailable(ProducerError):
    """The SSM parameter could not be read and no earlier copy is cached: we cannot authenticate."""


class ApiKeys:
    """Answers "is this the key of a producer?" without leaking which key or how much matched."""

    def __init__(
        self,
        settings: ProducerSettings,
        ssm: Callable[[], Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._ssm = ssm
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[bytes, ...] | None = None
        self._read_at = 0.0

    def check(self, presented: str | None) -> bool:
        if not presented:
            return False
        candidate = presented.encode("utf-8", "surrogateescape")
        matched = False
        for key in self._keys():
            matched |= hmac.compare_digest(key, candidate)
        return matched

    def _keys(self) -> tuple[bytes, ...]:
        local = tuple(key.encode() for key in self.settings.api_keys)
        if not self.settings.api_keys_parameter:
            return local
        return local + self._parameter_keys()

    def _parameter_keys(self) -> tuple[bytes, ...]:
        with self._lock:
            fresh = self._clock() - self._read_at < self.settings.api_keys_cache_seconds
            if self._cached is not None and fresh:
                return self._cached
            try:
                response = self._ssm().get_parameter(Name=self.settings.api_keys_parameter, WithDecryption=True)
            except (ClientError, BotoCoreError) as error:
                if self._cached is not None:
                    return self._cached  # a stale copy beats refusing every producer
                raise KeysUnavailable(f"cannot read the API keys parameter: {type(error).__name__}") from None
            value = str(response["Parameter"]["Value"])
            self._cached = tuple(key.strip().encode() for key in value.split(",") if key.strip())
            self._read_at = self._clock()
            return self._cached
