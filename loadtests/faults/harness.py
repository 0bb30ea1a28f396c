"""One scenario's stack and the tools every scenario shares: sizes, producers, drain, reconciliation, figures.

Each scenario gets a fresh stack on free ports (never 4566/4567/8080/4599 of a running
``nicelist up``), so moto's SQS, which slows as its queues grow, starts empty every time, and
one scenario's leftovers cannot hide another's loss.

Sizes fit the 2-core development machine (moto sustains about 150 WCU/s of conditional puts): a
table of 100 WCU/s, a few thousand updates for the long runs, a few hundred for the quick ones.
The writer timeout is short on purpose: the queue's visibility timeout is 6 x the writer timeout
(contract/delivery.py), and every redelivery after a crash or an outage waits that long; with the
stack's 30 s (visibility 3 minutes) one fault would take longer than the whole suite may.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import urllib3

from loadtests.faults.deliveries import DeliveryLog
from loadtests.faults.traffic import AnyUpdate, ApiProducer, Tally
from loadtests.faults.verify import Census, Reconciliation, census, reconcile, scan
from nicelist.local.health import HealthEvent
from nicelist.local.processes import free_port
from nicelist.local.stack import REGION, LocalStack, StackConfig
from nicelist.options import LOCAL_CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Profile:
    """How big a run is, and how the writers are set up for it."""

    quick: bool
    writer_timeout: int  # seconds; the queue's visibility timeout is 6 x this
    batch_size: int
    array: int  # updates per API request (one envelope each)
    drain_timeout: float

    @property
    def visibility(self) -> int:
        return 6 * self.writer_timeout


QUICK = Profile(quick=True, writer_timeout=5, batch_size=5, array=10, drain_timeout=120.0)
LONG = Profile(quick=False, writer_timeout=10, batch_size=10, array=20, drain_timeout=600.0)


def profile(quick: bool) -> Profile:
    return QUICK if quick else LONG


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass(slots=True)
class Result:
    scenario: str
    quick: bool
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, bool(ok), detail))

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "quick": self.quick,
            "ok": self.ok,
            "seconds": round(self.seconds, 1),
            "figures": self.figures,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "notes": self.notes,
        }


class Run:
    """A stack for one scenario, with a delivery log on the writers' SQS client and the health events."""

    def __init__(self, name: str, run_dir: Path, size: Profile, **config: Any) -> None:
        self.name, self.size = name, size
        self.deliveries = DeliveryLog()
        self.events: list[HealthEvent] = []
        settings: dict[str, Any] = {
            "moto_port": free_port(), "meter_port": free_port(), "api_port": free_port(),
            "control_port": free_port(), "run_dir": run_dir / name, "writer_timeout": size.writer_timeout,
            "batch_size": size.batch_size,
            "burst_seconds": 0.0,  # a stress run: the meter strict, no second over capacity (checked by throttle)
            **config,
        }  # fmt: skip
        self.stack = LocalStack(
            StackConfig(**settings), on_health=self.events.append, observe_runtime_sqs=self._observe
        )
        self.started = 0.0

    def _observe(self, client: Any) -> None:
        self.deliveries.attach(client)

    def __enter__(self) -> Run:
        self.stack.__enter__()
        self.started = time.monotonic()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stack.__exit__(kind, error, trace)

    # -- where things are ----------------------------------------------------------------------
    @property
    def queue_url(self) -> str:
        assert self.stack.provisioned is not None
        return self.stack.provisioned.queue_url

    @property
    def dlq_url(self) -> str:
        assert self.stack.provisioned is not None
        return self.stack.provisioned.dlq_url

    @property
    def table(self) -> str:
        assert self.stack.provisioned is not None
        return self.stack.provisioned.table_name

    def sqs(self) -> Any:
        return self.stack.client("sqs")

    def producer(self, tally: Tally, deadline: float = 60.0) -> ApiProducer:
        return ApiProducer(self.stack.api_url, self.stack.config.api_key, tally, deadline=deadline)

    # -- waiting and reading -------------------------------------------------------------------
    def depths(self) -> tuple[int, int]:
        """(queue visible + in flight, DLQ visible + in flight)."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        sqs = self.sqs()
        queue = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        dlq = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=names)["Attributes"]
        return sum(int(queue[n]) for n in names), sum(int(dlq[n]) for n in names)

    def wait_drained(self, timeout: float | None = None) -> float | None:
        """Seconds until the queue is empty with nothing in flight (twice in a row); None on timeout."""
        started = time.monotonic()
        limit = self.size.drain_timeout if timeout is None else timeout
        empty = 0
        while empty < 2:
            if time.monotonic() - started > limit:
                return None
            queued, _ = self.depths()
            in_flight = self.stack.runtime.stats().in_flight if self.stack.runtime else 0
            empty = empty + 1 if queued == 0 and in_flight == 0 else 0
            time.sleep(1.0)
        return time.monotonic() - started

    def wait_for(self, condition: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(interval)
        return True

    def reconcile(self, acknowledged: Sequence[AnyUpdate], attempted: Sequence[AnyUpdate]) -> Reconciliation:
        return reconcile(acknowledged, attempted, scan(self.stack.client("dynamodb"), self.table))

    def items(self) -> dict[tuple[str, str], dict[str, Any]]:
        return scan(self.stack.client("dynamodb"), self.table)

    def census(self, *, restore: bool = True) -> Census:
        return census(self.sqs(), self.dlq_url, restore=restore)

    def meter(self) -> dict[str, Any]:
        """The meter's view of this stage's table (totals, peak) and its injected faults."""
        http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(10))
        stats = http.request("GET", f"{self.stack.dynamodb_url}/_meter/stats?seconds=1").json()
        table = stats["tables"].get(self.table, {})
        return {
            "capacity": table.get("capacity"),
            "totals": table.get("totals", {}),
            "peak_units_per_second": table.get("peak_units_per_second"),
            "faults": stats.get("faults", {}),
        }

    def write_seconds(self, last_seconds: int = 900) -> list[int]:
        """The epoch seconds in which the meter saw write units reach this stage's table."""
        http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(10))
        stats = http.request("GET", f"{self.stack.dynamodb_url}/_meter/stats?seconds={last_seconds}").json()
        series = stats["tables"].get(self.table, {}).get("series", [])
        return [int(s["second"]) for s in series if s["units"] > 0]

    def set_capacity(self, wcu: int) -> None:
        http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(10))
        http.request("PUT", f"{self.stack.dynamodb_url}/_meter/capacity", json={"table": self.table, "wcu": wcu})

    def runtime_stats(self) -> dict[str, Any]:
        return self.stack.runtime.stats().as_dict() if self.stack.runtime else {}

    def health(self) -> list[dict[str, Any]]:
        return [event.as_dict() for event in self.events]

    # -- the operator's commands, run as an operator runs them -----------------------------------
    def nicelist(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``nicelist ARGS`` against this stack's embedded AWS (its own ports, dummy credentials)."""
        return subprocess.run(self.nicelist_argv(*args), env=self.nicelist_env(), cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout, check=False)  # fmt: skip

    def nicelist_argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "nicelist", *args, "--endpoint-url", self.stack.aws_url, "--region", REGION]

    def nicelist_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"AWS_PROFILE", "AWS_ENDPOINT_URL"}}
        return {**env, **LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": REGION}


def standard(result: Result, recon: Reconciliation, dead: Census, drain: float | None, sent: int, acked: int) -> None:
    """The figures and checks every scenario reports: sent, acknowledged, written, dead-lettered, lost."""
    result.figures.update(
        {
            "updates sent": sent,
            "acknowledged": acked,
            "registers expected / correct": f"{recon.registers_expected} / {recon.registers_correct}",
            "registers newer from unacknowledged updates": recon.registers_newer_unacknowledged,
            "track points expected / present": f"{recon.track_expected} / {recon.track_expected - recon.track_missing}",
            "written (acknowledged observations in the table)": recon.written,
            "dead-lettered messages": len(dead.letters),
            "dead-lettered by reason": dead.by_reason,
            "valid updates in the DLQ": len(dead.valid_updates),
            "lost": recon.lost,
            "unexpected items": recon.unexpected_items,
            "drain seconds": None if drain is None else round(drain, 1),
        }
    )
    result.check("nothing acknowledged lost", recon.lost == 0, _lost_detail(recon))
    result.check("no valid update in the DLQ", not dead.valid_updates, f"{len(dead.valid_updates)} valid updates")
    result.check("no item nobody sent", recon.unexpected_items == 0, f"{recon.unexpected_items} unexpected")
    result.check("the queue drained", drain is not None, "" if drain is not None else "timed out")


def _lost_detail(recon: Reconciliation) -> str:
    return (
        f"registers missing {recon.registers_missing}, older than acknowledged {recon.registers_older}, "
        f"track points missing {recon.track_missing}"
    )
