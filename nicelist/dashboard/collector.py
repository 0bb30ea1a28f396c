"""One reading of the whole stack a second, kept for the page: ``Collector.state()`` is what
``/api/state`` serves, so any number of open pages cost the stack nothing more than one.

Every figure comes from the code that prints it elsewhere: the queue, its age, the DLQ, the table,
W and C, the measured write rate, the throttles, the drain estimate and the alarm states from
``nicelist.status.stage_status`` (what ``nicelist status`` shows); the per-second write rate from the
meter's ledger (``/_meter/stats``); the writer executions from the runtime's control endpoint
(``/stats``); positions from ``ChildReader`` queries (``nicelist.dashboard.positions``); notifications
from the run directory's ``notifications.log``. Each source is a ``Feed``: when it stops answering, the
state says since when and keeps its last values, marked stale.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.config import Config

from contract.names import StageNames
from nicelist.dashboard.feeds import ERROR_CHARS, Feed, get_json
from nicelist.dashboard.notifications import latest_notifications
from nicelist.dashboard.positions import ChildSample
from nicelist.drain import LoggedMix, writer_mix
from nicelist.local.control import request
from nicelist.options import LOCAL_REGION, AwsTarget, local_session
from nicelist.status import StageStatus, stage_status

LOG = logging.getLogger(__name__)
REFRESH_SECONDS = 1.0
POSITIONS_EVERY_SECONDS = 5.0
RATE_SERIES_SECONDS = 60
# A dashboard's reads must fail fast and say so, not retry for seconds behind a frozen page.
READ_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1})
# The map's queries run beside a peak's writes on the same embedded AWS: slower is not lost.
POSITIONS_CONFIG = Config(connect_timeout=1, read_timeout=8, retries={"total_max_attempts": 2})


@dataclass(frozen=True, slots=True)
class StackTarget(AwsTarget):
    """The local stack's embedded AWS on its own port, with its dummy credentials; clients are made once
    (boto3 clients are thread-safe) and fail fast."""

    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def session(self) -> Any:
        return local_session(self.region)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session().client(service, endpoint_url=self.endpoint, config=READ_CONFIG)
        return self._clients[service]


@dataclass(frozen=True, slots=True)
class StackEndpoints:
    """Where the dashboard reads one stage of the local stack."""

    stage: str
    aws_url: str
    dynamodb_url: str  # DynamoDB as the map's reader reaches it
    meter_url: str | None = None
    control_url: str | None = None
    run_dir: Path | None = None

    def target(self) -> StackTarget:
        return StackTarget(self.stage, LOCAL_REGION, endpoint_url=self.aws_url)


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as None: JSON has no NaN or infinity."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def status_dict(status: StageStatus) -> dict[str, Any]:
    """What the page shows of ``nicelist status``, as it prints it with ``--json``."""
    data = dataclasses.asdict(status)
    data.update(drain=status.drain.as_dict(), backlog=status.backlog, healthy=status.healthy)
    data["alarms"] = [{"name": name, "state": state} for name, state in sorted(status.alarms.items())]
    return data


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def meter_reading(meter_url: str, table: str) -> dict[str, Any]:
    """The table's last complete seconds as the meter counted them, and its capacity; ValueError when
    the answer is not the meter's ledger."""
    stats = _object(get_json(f"{meter_url.rstrip('/')}/_meter/stats?seconds={RATE_SERIES_SECONDS + 1}"))
    ledger = _object(_object(stats.get("tables")).get(table))
    series = ledger.get("series", [])
    if not isinstance(series, list) or not all(isinstance(second, dict) for second in series):
        raise ValueError(f"the meter's stats for {table} are not a ledger")
    keep = ("second", "units", "throttled_units", "throttle_events")
    return {
        "capacity": ledger.get("capacity"),
        "now": stats.get("now"),
        "total_units": _object(ledger.get("totals")).get("units"),
        "series": [{key: second.get(key, 0) for key in keep} for second in series[:-1]],  # the last is not over
    }


class Collector:
    """Reads the stack every ``interval`` seconds in a daemon thread (``start``/``stop``), or once per
    ``refresh()`` call (tests)."""

    def __init__(
        self,
        endpoints: StackEndpoints,
        *,
        interval: float = REFRESH_SECONDS,
        positions_every: float = POSITIONS_EVERY_SECONDS,
        clock: Callable[[], float] = time.time,
        sample: ChildSample | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.run = uuid.uuid4().hex[:12]  # a new dashboard process: the page starts its history afresh
        self._target = endpoints.target()
        self._names = StageNames(endpoints.stage)
        self._interval = interval
        self._positions_every = positions_every
        self._clock = clock
        self._logged: LoggedMix = writer_mix(self._target, endpoints.run_dir)
        self.sample = sample or ChildSample(
            self._target.session().client("dynamodb", endpoint_url=endpoints.dynamodb_url, config=POSITIONS_CONFIG),
            self._names.table,
            clock=clock,
        )
        self.feeds: dict[str, Feed[dict[str, Any]]] = {
            "aws": Feed("embedded AWS (moto)"),
            "meter": Feed("meter"),
            "runtime": Feed("writer runtime"),
            "table": Feed("table (positions)"),
        }
        self._positions_at: float | None = None
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dashboard-collector", daemon=True)

    def refresh(self) -> dict[str, Any]:
        """Read every source once (positions every ``positions_every`` s) and publish the state."""
        now = self._clock()
        endpoints, feeds = self.endpoints, self.feeds
        feeds["aws"].read(self._status, now)
        if endpoints.meter_url:
            meter_url = endpoints.meter_url
            feeds["meter"].read(lambda: meter_reading(meter_url, self._names.table), now)
        if endpoints.control_url:
            control_url = endpoints.control_url
            feeds["runtime"].read(lambda: dict(request(control_url, "/stats", timeout=1.0)), now)
        if self._positions_at is None or now - self._positions_at >= self._positions_every or not feeds["table"].ok:
            self._positions_at = now
            feeds["table"].read(self.sample.read, now)
        state = self._compose(now)
        with self._lock:
            self._state = state
        return state

    def _status(self) -> dict[str, Any]:
        return status_dict(stage_status(self._target, self.endpoints.meter_url, logged=self._logged))

    def _compose(self, now: float) -> dict[str, Any]:
        feeds = self.feeds
        return dict(
            jsonable(
                {
                    "stage": self.endpoints.stage,
                    "run": self.run,
                    "now": now,
                    "interval": self._interval,
                    "lost": [feed.name for feed in feeds.values() if feed.ok is False],
                    "feeds": {key: feed.as_dict() for key, feed in feeds.items()},
                    "status": feeds["aws"].value,
                    "meter": feeds["meter"].value,
                    "writers": feeds["runtime"].value,
                    "map": feeds["table"].value,
                    "notifications": latest_notifications(self.endpoints.run_dir),
                }
            )
        )

    def state(self) -> dict[str, Any]:
        with self._lock:
            return self._state

    def start(self) -> Collector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.refresh()
            except Exception as error:  # read-only: nothing is lost, and the page must say it is stuck
                LOG.exception("the dashboard could not read the stack")
                with self._lock:
                    self._state = {**self._state, "error": f"{type(error).__name__}: {error}"[:ERROR_CHARS]}
            self._stop.wait(max(0.0, self._interval - (time.monotonic() - started)))
