"""``nicelist bench --quick --json`` as CI runs it: every row and the whole cost model are there, as numbers.

The values are not judged (they are a loaded machine's; BENCHMARKS.md holds a full run): only that
each figure was measured, each ratio computed, each way billed, and nicelist lost nothing.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
# One row per figure the benchmark promises (README, "Benchmarks"), found by a piece of its label.
ROWS = {
    ("SQS", "API with arrays"),
    ("SQS", "API with single updates"),
    ("SQS", "SDK"),
    ("DynamoDB", "requests / 1,000 updates"),
    ("DynamoDB", "write units / 1,000 updates"),
    ("DynamoDB", "workload minimum"),
    ("throughput", "end-to-end updates/s"),
    ("throughput", "enqueue updates/s"),
    ("throughput", "p50"),
    ("throughput", "p99"),
    ("CPU", "API arrays of 100"),
    ("CPU", "decoding + validation alone"),
    ("meter", "peak one-second"),
    ("meter", "drain time / ideal"),
    ("meter", "throttled"),
    ("state", "final state correct"),
    ("state", "updates lost"),
}
SERVICES = {"sqs", "lambda_requests", "lambda_compute", "dynamodb_on_demand", "dynamodb_provisioned",
            "api_gateway_rest", "api_gateway_http", "total_on_demand", "total_provisioned"}  # fmt: skip


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run_dir = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "nicelist", "bench", "--quick", "--json", "--run-dir", str(run_dir)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0 and done.stdout, done.stderr[-3000:]
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


@pytest.mark.timeout(960)
def test_every_row_is_measured_for_both_ways_with_its_ratio(report: dict[str, Any]) -> None:
    rows = report["rows"]
    for section, piece in ROWS:
        assert any(r["section"] == section and piece in r["label"] for r in rows), (section, piece)
    for row in rows:
        assert _number(row["nicelist"]), row
        if row["naive"] is not None:
            assert _number(row["naive"]), row
            if not isinstance(row["naive"], bool) and row["naive"] != 0:
                assert _number(row["ratio"]), row
    lost = next(r for r in rows if r["label"] == "updates lost, end to end")
    assert lost["nicelist"] == 0
    assert all(r["nicelist"] is True for r in rows if r["label"].startswith("final state correct"))


@pytest.mark.timeout(960)
def test_the_bill_prices_every_service_for_every_way(report: dict[str, Any]) -> None:
    cost = report["cost"]
    assert cost["prices"]["as_of"] and cost["prices"]["region"] == "us-east-1"
    assert set(cost["per_million_updates"]) == {"nicelist_api", "nicelist_sdk", "naive"}
    for way, dollars in cost["per_million_updates"].items():
        assert set(dollars) >= SERVICES, way
        assert all(_number(dollars[name]) and dollars[name] >= 0 for name in SERVICES), (way, dollars)
        assert dollars["total_on_demand"] > 0 and dollars["total_provisioned"] > 0, way
    assert cost["per_million_updates"]["nicelist_api"]["api_gateway_rest"] > 0
    assert cost["per_million_updates"]["naive"]["api_gateway_rest"] == 0
    assert report["machine"]["cpus"] >= 1 and report["duration_seconds"] > 0
