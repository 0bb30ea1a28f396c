"""Run the demo's story against a running local stack, buffered (through SQS) or direct (the 2017 way)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.config import Config

from contract.updates import parse_body
from nicelist.demo.direct import THREADS as DIRECT_THREADS
from nicelist.demo.direct import DirectSender
from nicelist.demo.live import LiveView
from nicelist.demo.monitor import MeterReader, Monitor, WriterProgress
from nicelist.demo.report import DemoReport, rate_figures
from nicelist.demo.sender import ApiSender, SendCounts
from nicelist.demo.verify import Expected, compare, scan_table
from nicelist.demo.workload import MALFORMED_MESSAGES, Phase, night_updates, story
from nicelist.local.stack import LocalStack

UNITS_PER_UPDATE = 1.5  # write units an update causes on average after coalescing (measured, see README)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    updates: int = 5000
    children: int = 500
    spike_factor: float = 10.0
    seed: int = 23
    drain_timeout: float = 900.0
    live: bool = True


@dataclass(slots=True)
class Run:
    """One pass of the story, and what is needed to report it."""

    phases: list[Phase]
    updates: list[dict[str, Any]]
    counts: SendCounts
    started: float
    spike_start: int
    finished: float = 0.0


def plan(options: DemoOptions, capacity: float) -> tuple[list[Phase], list[dict[str, Any]]]:
    phases = story(options.updates, capacity, options.spike_factor, UNITS_PER_UPDATE)
    return phases, night_updates(options.updates, options.children, options.seed)


def run_buffered(stack: LocalStack, options: DemoOptions) -> tuple[DemoReport, Run, Monitor]:
    """Producers → API → SQS → writer → table, watched live; returns when the queue has drained."""
    assert stack.provisioned is not None
    config, provisioned = stack.config, stack.provisioned
    phases, updates = plan(options, config.capacity)
    sqs = stack.client("sqs")
    sender = ApiSender(stack.api_url, config.api_key)
    injected = [0]  # valid updates inside the injected malformed envelopes, once sent
    log_path = stack.runtime.config.log_path if stack.runtime is not None else None
    monitor = Monitor(
        sqs,
        provisioned.queue_url,
        provisioned.dlq_url,
        accepted=lambda: sender.counts.accepted + injected[0],
        progress=WriterProgress(log_path),
    )
    monitor.start()
    run = Run(phases, updates, sender.counts, time.time(), int(time.time() + phases[0].seconds))
    meter = MeterReader(stack.dynamodb_url, provisioned.table_name)
    view = LiveView(phases, meter, monitor, run.counts, config.capacity, enabled=options.live)
    stop = threading.Event()
    with view:
        sending = threading.Thread(target=sender.run, args=(phases, updates, stop), name="sender")
        injecting = threading.Thread(
            target=_inject_malformed,
            args=(sqs, provisioned.queue_url, phases[0].seconds, stop, injected),
            name="inject",
        )
        # the view refreshes while the spike is sent, not only while it drains
        watch([sending, injecting], view.refresh, options.drain_timeout)
        _wait(lambda: monitor.drained() and _dlq_settled(monitor), options.drain_timeout, view.refresh)
    run.finished = time.time()
    monitor.stop()
    expected = Expected()
    expected.extend(run.counts.accepted_updates)
    for body in MALFORMED_MESSAGES:  # the valid parts of malformed envelopes are written too
        expected.extend(_valid_part(body))
    report = _report("buffered", stack, options, run, expected, monitor, provisioned.table_name)
    return report, run, monitor


def run_direct(stack: LocalStack, options: DemoOptions, table: str) -> tuple[DemoReport, Run]:
    """Producers → table, each update a PutItem with the SDK's default retries: what 2017 did."""
    phases, updates = plan(options, stack.config.capacity)
    dynamodb = stack.client("dynamodb", metered=True, config=Config(max_pool_connections=DIRECT_THREADS))
    sender = DirectSender(dynamodb, table)
    run = Run(phases, updates, sender.counts, time.time(), int(time.time() + phases[0].seconds))
    meter = MeterReader(stack.dynamodb_url, table)
    view = LiveView(phases, meter, None, run.counts, stack.config.capacity, enabled=options.live)
    with view:
        sending = threading.Thread(target=sender.run, args=(phases, updates), name="direct")
        watch([sending], view.refresh, options.drain_timeout)
    run.finished = time.time()
    expected = Expected()
    expected.extend(sender.counts.accepted_updates)
    return _report("direct", stack, options, run, expected, None, table), run


def _report(
    mode: str,
    stack: LocalStack,
    options: DemoOptions,
    run: Run,
    expected: Expected,
    monitor: Monitor | None,
    table: str,
) -> DemoReport:
    verdict = compare(expected, scan_table(stack.client("dynamodb"), table))
    meter = MeterReader(stack.dynamodb_url, table).table_stats(int(time.time() - run.started) + 5)
    series = meter.get("series", [])
    counts = run.counts
    dead = monitor.timeline.latest().dlq if monitor and monitor.timeline.latest() else 0  # type: ignore[union-attr]
    report = DemoReport(
        mode=mode,
        updates=options.updates,
        sent=counts.sent,
        accepted=counts.accepted,
        rejected_at_edge=counts.rejected,
        not_accepted=counts.failed,
        retried=counts.retried,
        injected_malformed=len(MALFORMED_MESSAGES) if monitor else 0,
        dead_lettered=dead,
        verdict=verdict,
        rates=rate_figures(
            series, stack.config.capacity, stack.config.budget, run.spike_start, stack.config.burst_seconds
        ),
        seconds=run.finished - run.started,
    )
    report.series = {"meter": series}
    return report


def _inject_malformed(sqs: Any, queue_url: str, delay: float, stop: threading.Event, injected: list[int]) -> None:
    """What a careless producer sends with ``aws sqs send-message``: the writer must dead-letter it."""
    if stop.wait(delay):
        return
    for body in MALFORMED_MESSAGES:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        injected[0] += len(_valid_part(body))


def _valid_part(body: str) -> list[Any]:
    try:
        return list(parse_body(body).updates)
    except ValueError:
        return []


def _dlq_settled(monitor: Monitor) -> bool:
    latest = monitor.timeline.latest()
    return latest is not None and latest.dlq >= len(MALFORMED_MESSAGES)


def _wait(done: Callable[[], bool], timeout: float, tick: Callable[[], None], interval: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the queue did not drain within {timeout:.0f}s")
        tick()
        time.sleep(interval)


def watch(threads: list[threading.Thread], tick: Callable[[], None], timeout: float, interval: float = 1.0) -> None:
    """Start ``threads`` and call ``tick`` about every ``interval`` seconds until they have all ended."""
    for thread in threads:
        thread.start()
    _wait(lambda: not any(t.is_alive() for t in threads), timeout, tick, interval)
    for thread in threads:
        thread.join()


def chart_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.png"
