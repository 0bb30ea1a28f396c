"""``nicelist tune --auto`` on the local stack, as an operator runs it: a spike drains with nobody touching
anything, C goes up while there is a backlog and budget unspent and down once the writers sit idle,
nothing is lost and the writers never send the table more than its capacity.

Ports: free ones, or ``NICELIST_E2E_PORTS=moto,meter,api,control`` on a shared machine."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from contract.envelope import encode_envelope
from contract.updates import parse_update
from loadtests.rehearsal import tune_auto_command
from loadtests.verdict import writers_peak
from nicelist.demo.verify import Expected, compare, scan_table
from nicelist.local.processes import free_port
from nicelist.local.stack import LocalStack, StackConfig
from producers.synthetic import generate

pytestmark = pytest.mark.e2e

MESSAGES, UPDATES_PER_MESSAGE = 30, 100  # about 4,100 WCU: 43 s of drain at W = 97 WCU/s
DEADLINE = 200.0


def _ports() -> list[int]:
    given = os.environ.get("NICELIST_E2E_PORTS")
    return [int(port) for port in given.split(",")] if given else [free_port() for _ in range(4)]


def _spike(stack: LocalStack) -> Expected:
    updates = generate(MESSAGES * UPDATES_PER_MESSAGE, children=400, seed=11)
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=stack.names.queue)["QueueUrl"]
    bodies = [
        encode_envelope(updates[i : i + UPDATES_PER_MESSAGE]) for i in range(0, len(updates), UPDATES_PER_MESSAGE)
    ]
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")
    expected = Expected()
    expected.extend(parse_update(update) for update in updates)
    return expected


def _autoscaler(stack: LocalStack) -> subprocess.Popen[str]:
    command, environment = tune_auto_command(
        stack,
        *("--min", "2", "--max", "4", "--interval", "3", "--cooldown", "10", "--idle-for", "12"),
        # settle: a batch of one 100-update message at W / 4 takes about 6 s, plus the writers' 5 s cache
        *("--drain-target", "20", "--settle-seconds", "12", "--updates-per-message", str(UPDATES_PER_MESSAGE)),
    )
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)


def _read(process: subprocess.Popen[str], into: list[dict[str, Any]], other: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        print(line.rstrip())
        try:
            into.append(json.loads(line))
        except ValueError:
            other.append(line)


def _wait_until_settled(records: list[dict[str, Any]], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not _settled(records) and time.monotonic() < deadline and process.poll() is None:
        gone = len(records) >= 5 and all(r["action"] == "skipped" for r in records[-5:])
        assert not gone, f"the stack stopped answering: {records[-1]}"
        time.sleep(1)


def _ctrl_c(process: subprocess.Popen[str]) -> None:
    """Stop the autoscaler as an operator does (Ctrl-C), and make sure it is gone."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.terminate()
        process.wait(timeout=10)


def _settled(records: list[dict[str, Any]]) -> bool:
    """A raise, then the queue empty, then a lower applied."""
    actions = [(r["action"], r["applied"], r["signals"]["backlog"]) for r in records if "signals" in r]
    raised = next((i for i, (a, applied, _) in enumerate(actions) if a == "raise" and applied), None)
    if raised is None:
        return False
    return any(a == "lower" and applied and backlog == 0 for a, applied, backlog in actions[raised:])


def test_a_spike_drains_and_c_follows_it_with_nobody_touching_anything(tmp_path: Path) -> None:
    moto, meter, api, control = _ports()
    config = StackConfig(
        moto_port=moto,
        meter_port=meter,
        api_port=api,
        control_port=control,
        concurrency=1,
        batch_size=1,
        run_dir=tmp_path / "run",
        watch_health=False,
    )
    with LocalStack(config) as stack:
        # GIVEN a spike of 30 messages of 100 updates on a stack with C = 1
        expected = _spike(stack)
        # WHEN the autoscaler runs, and nobody else touches anything
        process = _autoscaler(stack)
        records: list[dict[str, Any]] = []
        other: list[str] = []
        reader = threading.Thread(target=_read, args=(process, records, other), daemon=True)
        reader.start()
        try:
            _wait_until_settled(records, process)
        finally:
            _ctrl_c(process)
        reader.join(timeout=10)
        assert _settled(records), "".join(other)[-3000:]
        meter_stats = json.loads(_get(f"{stack.dynamodb_url}/_meter/stats?seconds=600"))["tables"][stack.names.table]
        verdict = compare(expected, scan_table(stack.client("dynamodb"), stack.names.table))
        dlq = stack.client("sqs").get_queue_url(QueueName=stack.names.dlq)["QueueUrl"]
        dead = stack.client("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    # THEN C went 1 -> 2 (--min) and up again while there was a backlog and budget unspent ...
    records = [r for r in records if "signals" in r]  # not the steps skipped for a slow answer
    raises = [r for r in records if r["action"] == "raise" and r["applied"]]
    assert raises[0]["before"] == 1 and max(r["after"] for r in raises) >= 3
    assert all(r["signals"]["backlog"] > 0 for r in raises[1:])
    assert all(r["signals"]["measured_rate"] < 0.8 * r["signals"]["budget"] for r in raises[1:])
    # ... and down once the queue was empty, to --min
    lowers = [r for r in records if r["action"] == "lower" and r["applied"]]
    assert lowers and lowers[-1]["after"] == 2 and all(r["signals"]["backlog"] == 0 for r in lowers)
    # nothing lost, nothing dead-lettered, and the table never asked for more than its capacity
    assert verdict.lost == 0 and verdict.exact, verdict
    assert dead["Attributes"]["ApproximateNumberOfMessages"] == "0"
    # (what the writers sent, throttled units included, judged over 5 s as the spike tests do: a request
    # granted in a second's last milliseconds may be counted in the next, docs/design.md "Pacing")
    series, capacity, totals = meter_stats["series"], meter_stats["capacity"], meter_stats["totals"]
    assert writers_peak(series, window=5) <= capacity
    assert totals["throttled_units"] <= 0.01 * totals["units"]
    print(
        f"writers' peak {writers_peak(series):g} WCU/s per second, {writers_peak(series, window=5):g} over 5 s, "
        f"of {capacity}; {totals['units']} units accepted, {totals['throttled_units']} throttled "
        f"(seconds {[s['second'] for s in series if s['throttled_units']]}); C: "
        + " -> ".join(str(c) for c in [records[0]["before"], *(r["after"] for r in records if r["applied"])])
    )
    over = [_utc(s["second"]) + f" {s['units'] + s['throttled_units']}" for s in series if s["units"] > capacity]
    print(
        f"seconds above capacity: {over}; changes applied (each printed once done): "
        + ", ".join(f"{r['at'][11:19]} {r['before']}->{r['after']}" for r in records if r["applied"])
    )


def _utc(second: int) -> str:
    return dt.datetime.fromtimestamp(second, dt.UTC).strftime("%H:%M:%S")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        data: bytes = response.read()
        return data
