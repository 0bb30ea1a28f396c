"""Run the locustfile headless in a subprocess and read back what it wrote (CSV, HTML, the record)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests.shapes import SurgePlan

if TYPE_CHECKING:
    from loadtests.shapes import BurstPlan, SawtoothPlan
    from loadtests.targets import Target

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
STOP_TIMEOUT_SECONDS = 10  # users finish their request when the shape shrinks or ends: no cut-off answers


class LocustError(RuntimeError):
    """Locust did not run the test (it wrote no record or no statistics)."""


@dataclass(frozen=True, slots=True)
class LocustFigures:
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests_per_second: float


@dataclass(slots=True)
class LocustRun:
    exit_code: int
    started: float  # epoch seconds
    seconds: float
    figures: LocustFigures
    accepted_path: Path
    summary: dict[str, Any] = field(default_factory=dict)
    html: Path | None = None
    csv_prefix: Path | None = None

    @property
    def unexpected(self) -> int:
        return int(self.summary.get("unexpected_count", 0))

    @property
    def accepted_mismatch(self) -> int:
        """The API's "accepted" sums against the updates recorded for its 202s (SDK ones are apart)."""
        from_api = int(self.summary.get("updates_recorded", 0)) - int(self.summary.get("sdk_confirmed", 0))
        return abs(int(self.summary.get("accepted_field_sum", 0)) - from_api)

    @property
    def acknowledged_per_second(self) -> dict[int, int]:
        return {int(s): int(n) for s, n in self.summary.get("acknowledged_per_second", {}).items()}


def read_locust_csv(path: Path) -> LocustFigures:
    """The ``Aggregated`` row of Locust's ``<prefix>_stats.csv``."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
    if not rows:
        raise LocustError(f"no Aggregated row in {path}")
    row = rows[0]
    return LocustFigures(
        requests=int(row["Request Count"]),
        failures=int(row["Failure Count"]),
        p50_ms=float(row["50%"]),
        p95_ms=float(row["95%"]),
        p99_ms=float(row["99%"]),
        requests_per_second=round(float(row["Requests/s"]), 1),
    )


def locust_env(args: argparse.Namespace, plan: SurgePlan | BurstPlan | SawtoothPlan, target: Target) -> dict[str, str]:
    return {
        **os.environ,
        **target.locust_env,
        **plan.as_env(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        "NICELIST_API_KEY": target.api_key,
        "NICELIST_SPIKE_ACCEPTED": str(args.run_dir / "accepted.jsonl"),
        "NICELIST_SPIKE_BATCH": str(args.batch),
        "NICELIST_SPIKE_CHILDREN": str(args.children),
        "NICELIST_SPIKE_PACING": str(args.pacing),
        "NICELIST_SPIKE_HTTP_WEIGHT": str(args.http_weight),
        "NICELIST_SPIKE_SDK_WEIGHT": str(args.sdk_weight),
    }


def run_locust(args: argparse.Namespace, plan: SurgePlan | BurstPlan | SawtoothPlan, target: Target) -> LocustRun:
    run_dir: Path = args.run_dir
    accepted = run_dir / "accepted.jsonl"
    for stale in (accepted, accepted.with_suffix(".summary.json"), run_dir / "locust_stats.csv"):
        stale.unlink(missing_ok=True)
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", target.api_url, "--csv", str(run_dir / "locust"), "--html", str(run_dir / "locust.html"),
        "--only-summary", "--loglevel", "WARNING", "--stop-timeout", str(STOP_TIMEOUT_SECONDS),
    ]  # fmt: skip
    started = time.time()
    with (run_dir / "locust.log").open("wb") as log:
        done = subprocess.run(
            argv,
            check=False,
            env=locust_env(args, plan, target),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=plan.max_seconds + STOP_TIMEOUT_SECONDS + 60,
        )
    summary_path = accepted.with_suffix(".summary.json")
    if not summary_path.exists() or not (run_dir / "locust_stats.csv").exists():
        raise LocustError(f"Locust wrote no record (exit {done.returncode}); see {run_dir / 'locust.log'}")
    return LocustRun(
        exit_code=done.returncode,
        started=started,
        seconds=round(time.time() - started, 1),
        figures=read_locust_csv(run_dir / "locust_stats.csv"),
        accepted_path=accepted,
        summary=json.loads(summary_path.read_text(encoding="utf-8")),
        html=run_dir / "locust.html",
        csv_prefix=run_dir / "locust",
    )
