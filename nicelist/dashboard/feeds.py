"""Each source the dashboard reads, and whether it still answers: what "lost the stack" is made of.

A ``Feed`` wraps one read (the stage's status from the embedded AWS, the meter, the writer runtime's
control endpoint, the table for positions). A read that fails with an error of talking to a service
marks the feed down and keeps the value of its last good read, with the time of that read, so the
page can show the old figures as stale instead of blank or, worse, as current. Anything else (a bug)
propagates: the dashboard must not hide its own defects behind a "lost" banner.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from nicelist.local.control import ControlError

T = TypeVar("T")

# What "the service did not answer" looks like: sockets, HTTP, boto3, JSON that is not JSON.
UNREACHABLE: tuple[type[BaseException], ...] = (OSError, ValueError, BotoCoreError, ClientError, ControlError)
ERROR_CHARS = 300  # an error message shown on the page is cut to this length


@dataclass(slots=True)
class Feed(Generic[T]):
    """One source: its last good value, when it was read, and why the last read failed (if it did)."""

    name: str
    value: T | None = None
    ok: bool | None = None  # None: not read yet
    last_ok: float | None = None
    down_since: float | None = None
    error: str | None = None

    def read(self, fetch: Callable[[], T], now: float) -> T | None:
        """``fetch()``; on an unreachable service keep the last value and say since when it is down."""
        try:
            value = fetch()
        except UNREACHABLE as error:
            if self.ok is not False:
                self.down_since = now
            self.ok, self.error = False, f"{type(error).__name__}: {error}"[:ERROR_CHARS]
            return None
        self.value, self.ok, self.last_ok, self.down_since, self.error = value, True, now, None, None
        return value

    def forget(self) -> None:
        """Drop the last value (the stack it came from is gone, e.g. moto restarted empty)."""
        self.value = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "last_ok": self.last_ok,
            "down_since": self.down_since,
            "error": self.error,
        }


def get_json(url: str, timeout: float = 1.0) -> Any:
    """GET ``url`` and parse its JSON body (OSError / ValueError when it cannot)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the stack's own endpoints
        return json.loads(response.read())
