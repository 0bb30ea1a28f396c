"""Live tuning through the control endpoint and ``nicelist tune``: concurrency follows, scaling down
lets in-flight invocations finish, invalid settings are refused with a non-zero exit."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nicelist.local.control import ControlError, request
from nicelist.local.runtime import WriterRuntime
from nicelist.local.tune import tune
from tests.handlers.stack import config, make_queue, send, sqs_client, wait_until


@pytest.fixture
def runtime(endpoint: str, tmp_path: Path) -> Iterator[WriterRuntime]:
    sqs = sqs_client(endpoint)
    queue = make_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", visibility=5)[0]
    send(sqs, queue, *["sleep:0.3"] * 16)
    settings = config(endpoint, queue, tmp_path / "r.jsonl", batch_size=1, maximum_concurrency=1, control_port=0)
    with WriterRuntime(settings) as running:
        yield running


class PeakInFlight:
    """Samples the runtime's in-flight count in the background."""

    def __init__(self, runtime: WriterRuntime) -> None:
        self.runtime, self.peak, self.done = runtime, 0, threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, self.runtime.stats().in_flight)

    def reset(self) -> int:
        peak, self.peak = self.peak, 0
        return peak


def _tune(runtime: WriterRuntime, *args: str) -> Any:
    assert runtime.control_url is not None
    result = CliRunner().invoke(tune, ["--control-url", runtime.control_url, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_concurrency_follows_tuning_and_scaling_down_lets_invocations_finish(runtime: WriterRuntime) -> None:
    peak = PeakInFlight(runtime)
    time.sleep(0.8)
    assert peak.reset() == 1

    answer = _tune(runtime, "--max-concurrency", "3", "--reserved-concurrency", "3")
    assert answer["tuning"]["maximum_concurrency"] == 3
    wait_until(lambda: peak.peak == 3, timeout=5)

    _tune(runtime, "--max-concurrency", "1")
    wait_until(lambda: runtime.stats().in_flight <= 1, timeout=2)
    peak.reset()
    time.sleep(0.8)
    assert peak.reset() == 1
    wait_until(lambda: runtime.stats().records_deleted == 16, timeout=15)
    peak.done.set()
    stats = runtime.stats()
    assert (stats.timeouts, stats.batch_failures, stats.throttled_invocations) == (0, 0, 0)
    assert stats.executions <= 3


def test_stats_are_served_by_the_control_endpoint(runtime: WriterRuntime) -> None:
    assert runtime.control_url is not None
    wait_until(lambda: request(runtime.control_url, "/stats")["invocations"] > 0)

    stats = request(runtime.control_url, "/stats")
    assert set(stats) >= {"invocations", "records_received", "records_deleted", "records_failed"}
    assert set(stats) >= {"batch_failures", "timeouts", "executions_replaced", "throttled_invocations"}
    assert set(stats) >= {"concurrency", "in_flight"}


def test_invalid_tuning_is_refused_with_a_non_zero_exit(runtime: WriterRuntime) -> None:
    assert runtime.control_url is not None
    result = CliRunner().invoke(tune, ["--control-url", runtime.control_url, "--batch-size", "50"])

    assert result.exit_code != 0
    assert "batching window" in result.output
    assert runtime.tuning.batch_size == 1
    with pytest.raises(ControlError, match="unknown"):
        request(runtime.control_url, "/tuning", {"batchsize": 5})


def test_tune_warns_about_the_throttling_trap(runtime: WriterRuntime) -> None:
    assert runtime.control_url is not None
    result = CliRunner().invoke(
        tune, ["--control-url", runtime.control_url, "--reserved-concurrency", "1", "--max-concurrency", "2"]
    )

    assert result.exit_code == 0
    assert "throttles" in result.stderr


def test_tune_without_a_runtime_exits_non_zero() -> None:
    result = CliRunner().invoke(tune, ["--control-url", "http://127.0.0.1:9"])

    assert result.exit_code == 1
    assert "cannot reach" in result.output
