"""The local stack as a user runs it: ``nicelist demo`` and ``nicelist up``, as subprocesses, on free ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import urllib3

from nicelist.local.processes import free_port

pytestmark = pytest.mark.e2e

NICELIST = [sys.executable, "-m", "nicelist"]


def _ports() -> list[str]:
    return [
        "--moto-port", str(free_port()), "--meter-port", str(free_port()),
        "--api-port", str(free_port()), "--control-port", str(free_port()),
        "--dashboard-port", str(free_port()),  # the live dashboard's default 8081 may be taken
    ]  # fmt: skip


def test_demo_delivers_every_accepted_update_and_holds_the_table_to_its_capacity(tmp_path: Path) -> None:
    # GIVEN a small story (the default is 5,000 updates; see the README for its figures)
    # (strict meter: without DynamoDB's burst credit no second may exceed capacity, which is checked below)
    command = [*NICELIST, "demo", "--updates", "400", "--json", "--no-live", "--burst-seconds", "0"]
    command += ["--run-dir", str(tmp_path), *_ports()]
    # WHEN the demo runs start to finish
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    # THEN it exits 0 and its report says nothing was lost and the meter never saw more than capacity
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["lost"] == 0 and report["ok"] is True
    assert report["accepted"] + report["rejected_at_edge"] == report["sent"] == 400
    assert report["rejected_at_edge"] > 0  # the story carries invalid updates the API must refuse
    assert report["dead_lettered"] == report["injected_malformed"] == 3
    assert report["verdict"]["registers_correct"] == report["verdict"]["registers_expected"] > 0
    assert report["rates"]["peak_units_per_second"] <= report["rates"]["capacity"]
    assert Path(report["chart"]).stat().st_size > 10_000


@dataclass
class Up:
    """A ``nicelist up`` subprocess on free ports; ``output`` is what it printed, once stopped."""

    process: subprocess.Popen[str]
    moto: str
    api: str
    output: str = ""


@contextmanager
def nicelist_up(run_dir: Path) -> Iterator[Up]:
    """Start ``nicelist up``, wait until its API is healthy, and stop it with Ctrl-C (SIGINT) on leaving."""
    ports = _ports()
    process = subprocess.Popen(
        [*NICELIST, "up", "--run-dir", str(run_dir), *ports],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    up = Up(process, moto=ports[1], api=ports[5])
    try:
        http = urllib3.PoolManager(retries=False, timeout=5)
        _wait(lambda: _health(http, up.api), 60, process)
        # the dashboard starts last (after the writers and the local CloudWatch): then `up` is up
        _wait(lambda: _answers(http, f"http://127.0.0.1:{ports[9]}/api/state"), 60, process)
        yield up
    finally:
        os.killpg(process.pid, signal.SIGINT)
        up.output, _ = process.communicate(timeout=60)


def test_up_serves_the_api_writes_the_table_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    with nicelist_up(tmp_path) as up:
        http = urllib3.PoolManager(retries=False, timeout=5)
        update = {"kind": "status", "child_id": "c-e2e", "status": "nice", "observed_at": "2026-12-23T18:00:00Z"}
        url = f"http://127.0.0.1:{up.api}/v1/updates"
        unauthorised = http.request("POST", url, body=json.dumps(update), headers={"content-type": "application/json"})
        assert unauthorised.status == 401
        headers = {"content-type": "application/json", "x-api-key": "local-dev-key"}
        accepted = http.request("POST", url, body=json.dumps(update), headers=headers)
        assert accepted.status == 202 and json.loads(accepted.data) == {"accepted": 1}
        table = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{up.moto}", region_name="us-east-1")
        key = {"child_id": {"S": "c-e2e"}, "sk": {"S": "STATUS"}}
        _wait(lambda: "Item" in table.get_item(TableName="nicelist-local", Key=key), 60, up.process)
        children = _descendants(up.process.pid)
        assert len(children) >= 4  # moto, meter, API server, writer executions
    assert up.process.returncode == 0, up.output[-3000:]
    assert [pid for pid in children if _alive(pid)] == [], "child processes outlived nicelist up"


def _descendants(pid: int) -> list[int]:
    found = []
    for child in subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split():
        found += [int(child), *_descendants(int(child))]
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie is dead, just not yet reaped by its parent


def _answers(http: urllib3.PoolManager, url: str) -> bool:
    try:
        return http.request("GET", url).status == 200
    except urllib3.exceptions.HTTPError:
        return False


def _health(http: urllib3.PoolManager, port: str) -> bool:
    return _answers(http, f"http://127.0.0.1:{port}/v1/health")


def _wait(condition: object, timeout: float, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert process.poll() is None, process.stdout.read() if process.stdout else "nicelist up exited"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_sigterm_stops_a_running_demo_and_every_process_it_started(tmp_path: Path) -> None:
    # GIVEN a demo whose stack is up and whose story is still being sent (a supervisor's stop, not a terminal's)
    ports = _ports()
    process = subprocess.Popen(
        [*NICELIST, "demo", "--updates", "20000", "--no-live", "--run-dir", str(tmp_path), *ports],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        _wait(lambda: _health(urllib3.PoolManager(retries=False, timeout=5), ports[5]), 60, process)
        children = _descendants(process.pid)
        assert len(children) >= 4  # moto, meter, API server, writer executions
        # WHEN only the demo's own process gets SIGTERM
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    # THEN it exits with 128 + SIGTERM and nothing it started outlives it
    assert process.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert [pid for pid in children if _alive(pid)] == [], "child processes outlived nicelist demo"
