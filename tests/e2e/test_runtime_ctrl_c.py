"""The runtime as ``nicelist up`` runs it: in its own process until Ctrl-C, which lets the in-flight
invocation finish and leaves no execution process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.handlers.stack import (
    REPO,
    make_queue,
    queue_depth,
    read_records,
    send,
    sqs_client,
    wait_until,
)

pytestmark = pytest.mark.e2e

RUN = """
import sys
from pathlib import Path
from nicelist.local.runtime import WriterRuntime
from tests.handlers.stack import config
WriterRuntime(config(sys.argv[1], sys.argv[2], Path(sys.argv[3]), batch_size=1, maximum_concurrency=2)).run()
"""


def _children(pid: int) -> list[int]:
    ps = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], check=False, capture_output=True, text=True)
    return [int(line) for line in ps.stdout.split()]


def _alive(pid: int) -> bool:
    """A zombie (exited, not yet reaped by whoever adopted it) is not alive."""
    ps = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], check=False, capture_output=True, text=True)
    return bool(ps.stdout.strip()) and not ps.stdout.strip().startswith("Z")


def test_ctrl_c_finishes_in_flight_work_and_leaves_no_children(endpoint: str, tmp_path: Path) -> None:
    sqs: Any = sqs_client(endpoint)
    queue = make_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", visibility=10)[0]
    records = tmp_path / "r.jsonl"
    runtime = subprocess.Popen(
        [sys.executable, "-c", RUN, endpoint, queue, str(records)], cwd=REPO, start_new_session=True
    )
    try:
        send(sqs, queue, "ok")
        wait_until(lambda: read_records(records), timeout=10)
        send(sqs, queue, "sleep:1.5")
        wait_until(lambda: len(read_records(records)) == 2, timeout=10)
        executions = _children(runtime.pid)
        assert executions

        os.killpg(runtime.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground group
        assert runtime.wait(timeout=10) == 0
    finally:
        if runtime.poll() is None:
            runtime.kill()

    assert not [pid for pid in executions if _alive(pid)]
    assert queue_depth(sqs, queue) == (0, 0)  # the sleeping invocation finished and was deleted
