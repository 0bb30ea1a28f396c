"""The fault suite's quick versions (RELIABILITY.md), as CI runs them: one fresh stack per scenario, on free ports.

Each runs ``python -m loadtests.faults SCENARIO --quick --json`` as a user would and needs its
verdict: nothing acknowledged lost, nothing valid in the DLQ, and the scenario's own checks. The
long versions are the command's (``python -m loadtests.faults``), not CI's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = ["crash", "throttle", "poison", "storm", "redrive", "outage"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_fault_costs_a_delay_never_an_acknowledged_update(scenario: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "loadtests.faults", scenario, "--quick", "--json", "--run-dir", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240, check=False)
    assert done.stdout, done.stderr[-3000:]
    report = json.loads(done.stdout)
    [result] = report["results"]
    failed = [f"{c['name']}: {c['detail']}" for c in result["checks"] if not c["ok"]]
    assert done.returncode == 0 and result["ok"], "\n".join(failed) or done.stderr[-3000:]
    assert result["figures"]["lost"] == 0
    assert result["figures"]["valid updates in the DLQ"] == 0
    assert result["figures"]["acknowledged"] > 0


def test_the_command_lists_its_scenarios_and_refuses_unknown_ones() -> None:
    command = [sys.executable, "-m", "loadtests.faults"]
    listing = subprocess.run([*command, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert listing.returncode == 0
    assert all(name in listing.stdout for name in SCENARIOS)
    wrong = subprocess.run([*command, "nonsense"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert wrong.returncode == 2 and "unknown scenario" in wrong.stderr
