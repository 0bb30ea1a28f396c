"""The poller ramp in the runtime, against moto server: one invocation at first, one more each
step while messages remain, back to the floor once the queue is empty; the control endpoint serves
the timeline."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nicelist.local.control import request
from nicelist.local.ramp import parse_ramp
from nicelist.local.runtime import WriterRuntime
from tests.handlers.stack import config, make_queue, send, sqs_client, wait_until


def test_the_ramp_lets_invocations_grow_one_step_at_a_time(endpoint: str, tmp_path: Path) -> None:
    sqs = sqs_client(endpoint)
    queue = make_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", visibility=5)[0]
    send(sqs, queue, *["sleep:0.25"] * 20)
    ramp = parse_ramp("1:60")  # one at first, +1 a second, up to the maximum concurrency of 3
    settings = config(
        endpoint, queue, tmp_path / "r.jsonl", batch_size=1, maximum_concurrency=3, control_port=0, poller_ramp=ramp
    )
    with WriterRuntime(settings) as runtime:
        started = time.time()
        wait_until(lambda: runtime.stats().records_deleted == 20, timeout=20)
        url = runtime.control_url
        assert url is not None
        # Empty receives: back to the floor, in the stats and in the timeline the control endpoint serves.
        wait_until(lambda: runtime.stats().pollers == 1, timeout=10)
        wait_until(lambda: request(url, "/timeline")["timeline"][-1]["pollers"] == 1, timeout=2)
    rows = [row for row in runtime.timeline() if row["second"] >= int(started)]
    assert rows[0]["pollers"] == 1  # sampled 0.2 s in: one invocation at first
    full = next(index for index, row in enumerate(rows) if row["pollers"] == 3)
    assert rows[full]["second"] - rows[0]["second"] >= 1  # 1 -> 3 takes two steps of 1 s
    growing = rows[:full]
    assert all(row["in_flight"] <= row["pollers"] for row in growing)  # never more than the ramp allows
    assert [row["pollers"] for row in growing] == sorted(row["pollers"] for row in growing)
    assert max(row["in_flight"] for row in rows) == 3
    assert runtime.stats().throttled_invocations == 0
