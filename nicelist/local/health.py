"""The local stack's health watcher: probe each dependency once a second, report when it goes and comes back.

A spike must become a delay, not a loss, and during an outage the operator should see *why* the
delay grows: ``nicelist up`` prints "DynamoDB (meter) unreachable since 18:04:05 (…)" when a
probe fails twice in a row, and "DynamoDB (meter) recovered after 31 s" when it answers again. The
probes go through the same paths the stack's processes use (DynamoDB through the meter, SQS as the
enqueue API reaches it), so a cut in the middle shows up as what it breaks, not as a healthy
endpoint beside it. The fault suite reads the same events to time its outages.

Each probe runs in its own thread, so one that hangs until its timeout does not delay the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import urllib3
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger(__name__)
Check = Callable[[], str | None]
"""One probe: None when healthy, else a short reason (never an exception)."""


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    check: Check
    hint: str = ""  # what the operator should know when it is down


@dataclass(frozen=True, slots=True)
class HealthEvent:
    component: str
    kind: Literal["down", "up"]
    at: float  # epoch seconds of the probe that decided
    since: float  # epoch seconds of the first failed probe of the outage
    reason: str = ""
    hint: str = ""

    @property
    def down_seconds(self) -> float:
        return self.at - self.since

    def message(self) -> str:
        since = time.strftime("%H:%M:%S", time.localtime(self.since))
        if self.kind == "down":
            text = f"{self.component} unreachable since {since} ({self.reason})"
            return f"{text}; {self.hint}" if self.hint else text
        return f"{self.component} recovered after {self.down_seconds:.0f} s (down since {since})"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "down_seconds": round(self.down_seconds, 1), "message": self.message()}


class _State:
    def __init__(self) -> None:
        self.failures = 0
        self.first_failure: float | None = None
        self.down = False


class HealthWatcher:
    """``start()`` / ``stop()``; ``events()`` and ``status()`` are safe from any thread."""

    def __init__(
        self,
        probes: Sequence[Probe],
        *,
        interval: float = 1.0,
        failures_to_alarm: int = 2,
        on_event: Callable[[HealthEvent], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.probes = list(probes)
        self.interval = interval
        self.failures_to_alarm = failures_to_alarm
        self._on_event = on_event
        self._clock = clock
        self._lock = threading.Lock()
        self._states = {probe.name: _State() for probe in self.probes}
        self._events: list[HealthEvent] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> HealthWatcher:
        for probe in self.probes:
            thread = threading.Thread(target=self._watch, args=(probe,), name=f"health-{probe.name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def events(self) -> list[HealthEvent]:
        with self._lock:
            return list(self._events)

    def status(self) -> dict[str, bool]:
        """Per component: True while it is considered up."""
        with self._lock:
            return {name: not state.down for name, state in self._states.items()}

    def check(self, probe: Probe) -> HealthEvent | None:
        """Run one probe now and record what it changed (the watch loop's step; tests call it directly)."""
        try:
            reason = probe.check()
        except Exception as error:  # a probe must never kill the watcher; its failure is the news
            reason = f"probe failed: {type(error).__name__}: {error}"
        return self._record(probe, reason, self._clock())

    def _record(self, probe: Probe, reason: str | None, now: float) -> HealthEvent | None:
        with self._lock:
            state = self._states[probe.name]
            event = None
            if reason is None:
                if state.down and state.first_failure is not None:
                    event = HealthEvent(probe.name, "up", now, state.first_failure, hint=probe.hint)
                state.failures, state.first_failure, state.down = 0, None, False
            else:
                state.failures += 1
                state.first_failure = state.first_failure or now
                if not state.down and state.failures >= self.failures_to_alarm:
                    state.down = True
                    event = HealthEvent(probe.name, "down", now, state.first_failure, reason, probe.hint)
            if event is not None:
                self._events.append(event)
        if event is not None:
            LOG.info("%s", event.message())
            if self._on_event is not None:
                self._on_event(event)
        return event

    def _watch(self, probe: Probe) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            self.check(probe)
            self._stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))


def aws_check(call: Callable[[], Any]) -> Check:
    """A probe from one boto3 call: an error becomes its code (or the connection failure's name)."""

    def check() -> str | None:
        try:
            call()
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            return f"{error.response.get('Error', {}).get('Code', 'error')}, HTTP {status}"
        except BotoCoreError as error:
            return type(error).__name__
        return None

    return check


def http_check(url: str, timeout: float = 5.0) -> Check:
    """A probe from one GET: anything but a 200 is a failure."""
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=1.0, read=timeout))

    def check() -> str | None:
        try:
            response = http.request("GET", url)
        except urllib3.exceptions.HTTPError as error:
            return type(error).__name__
        return None if response.status == 200 else f"GET {urllib3.util.parse_url(url).path} answered {response.status}"

    return check
