"""A peak on an auto-scaled local table with write rate auto: the spike drains with nobody touching
anything, the table scales out, and no second's writes exceed the capacity in force in that second
(``loadtests/rehearsal.py``, README "Rehearse a peak"). Small and time-compressed (x30) to stay short."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nicelist.local.processes import free_port


def test_a_spike_drains_on_an_auto_scaled_table_with_the_writers_following(tmp_path: Path) -> None:
    ports = [f"--{name}-port={free_port()}" for name in ("moto", "meter", "api", "control")]
    command = [
        sys.executable, "-m", "loadtests.rehearsal", "--json", "--updates", "600", "--children", "100",
        "--capacity", "20", "--autoscale", "20:80:50", "--time-factor", "30", "--write-rate", "auto:0.85",
        "--run-dir", str(tmp_path), "--chart", str(tmp_path / "rehearsal.png"), *ports,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    # nothing lost, no manual step, and the table scaled out while the writers followed it
    assert summary["lost"] == 0 and summary["accepted"] > 500
    assert summary["starting_capacity"] == 20
    assert summary["peak_capacity"] > 20
    first = summary["activities"][0]
    assert first["to"] > first["from"]
    # the meter's own seconds: never more accepted than the capacity in force in that second
    assert summary["seconds_over_capacity"] == 0
