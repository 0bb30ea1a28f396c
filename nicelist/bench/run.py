"""One benchmark run: every measurement, in the order that keeps them apart.

In-process against moto first (``mock_aws``: request and unit counts, correctness), then the CPU
figures against an SQS that answers at once, then the local stack (end to end, then enqueue load).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from nicelist.bench.consumers import ConsumerResult, run_naive, run_writer, writer_memory
from nicelist.bench.counting import SqsCounter
from nicelist.bench.endtoend import NAIVE_STAGE, EndToEnd, buffered, enqueue_load, naive, stack_config
from nicelist.bench.load import LoadFigures
from nicelist.bench.producers import CpuFigures, SqsFigures, api_cpu, sqs_requests
from nicelist.bench.workload import batches, minimum_units, workload
from nicelist.demo.run import DemoOptions
from nicelist.local.stack import LocalStack
from writer.observability import logger as writer_logger

Progress = Any  # a callable taking one line of progress (stderr)


@dataclass(frozen=True, slots=True)
class BenchOptions:
    updates: int = 50_000  # in-process workload, delivered
    children: int = 5_000
    singles: int = 1_000  # updates sent one per request / message (their count is exact at any size)
    seed: int = 23
    # The demo's story through the local stack, each way. Not the demo's 5,000: the naive way's one message
    # per update fills moto's queue, and moto's SQS spends time proportional to a queue's depth on every call.
    e2e_updates: int = 2_000
    e2e_children: int = 500
    load_threads: int = 4
    load_seconds: float = 10.0
    capacity: int = 100
    concurrency: int = 2  # the writer's executions (reserved concurrency)
    naive_concurrency: int = 10  # the naive consumer's invocations at once: an unreserved Lambda scales out
    moto_port: int = 0  # 0: free ports
    memory: bool = True  # the writer's tracemalloc peak (slow under tracemalloc; --quick skips it)
    run_dir: Path = field(default_factory=lambda: Path("runs/bench"))
    drain_timeout: float = 900.0


QUICK: dict[str, Any] = {
    "updates": 1_000, "children": 100, "singles": 100, "e2e_updates": 500, "load_seconds": 3.0, "memory": False,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Measurements:
    options: BenchOptions
    minimum_units: int
    distinct_updates: int
    writer: ConsumerResult
    naive_consumer: ConsumerResult
    memory: dict[str, float]
    sqs: dict[str, SqsFigures]
    cpu: CpuFigures
    e2e: dict[str, EndToEnd]
    load: dict[str, LoadFigures]
    seconds: dict[str, float]  # wall time of each part


def measure(options: BenchOptions, progress: Progress) -> Measurements:
    quiet_writer()
    seconds: dict[str, float] = {}
    started = time.monotonic()
    work = workload(options.updates, options.children, options.seed)
    batched = batches(work.stream)
    progress(f"in-process: writer and naive consumer, {len(work.stream):,} updates, against moto")
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        expected = work.expected
        writer = run_writer(session, batched, work, expected)
        naive_consumer = run_naive(session, work, expected)
        memory = writer_memory(session, batched[0]) if options.memory else {}
        progress("in-process: SQS requests of the API, the SDK and the naive producer")
        sqs = sqs_requests(session, work.stream, min(options.singles, len(work.stream)))
    seconds["in_process"] = time.monotonic() - started
    progress("CPU: the API and the floor, against an SQS that answers at once")
    cpu = api_cpu(work.stream, min(options.singles, len(work.stream)))
    seconds["cpu"] = time.monotonic() - started - sum(seconds.values())
    e2e, load = local_stack(options, progress)
    seconds["local_stack"] = time.monotonic() - started - sum(seconds.values())
    return Measurements(
        options, minimum_units(batched), len(work.distinct), writer, naive_consumer, memory, sqs, cpu, e2e, load,
        seconds,
    )  # fmt: skip


def local_stack(options: BenchOptions, progress: Progress) -> tuple[dict[str, EndToEnd], dict[str, LoadFigures]]:
    config = stack_config(options.moto_port, options.run_dir, options.capacity, options.concurrency)
    demo = DemoOptions(
        updates=options.e2e_updates, children=options.e2e_children, seed=options.seed, live=False,
        drain_timeout=options.drain_timeout,
    )  # fmt: skip
    poller = SqsCounter()

    def observe(runtime_sqs: Any) -> None:  # the writer runtime's poller: its receives and deletes
        poller.attach(runtime_sqs)

    progress(f"local stack on ports {config.moto_port}, {config.meter_port}, {config.api_port}, "
             f"{config.control_port}; logs in {options.run_dir}/")  # fmt: skip
    with LocalStack(config, extra_stages=[NAIVE_STAGE], observe_runtime_sqs=observe) as stack:
        progress(f"end to end, nicelist: the demo's story, {options.e2e_updates:,} updates")
        ours = buffered(stack, demo, poller)
        progress(f"end to end, naive: the same story, {options.e2e_updates:,} updates")
        theirs = naive(stack, demo, options.naive_concurrency)
        progress(f"enqueue load: {options.load_threads} threads x {options.load_seconds:g} s each way")
        load = enqueue_load(stack, options.load_threads, options.load_seconds)
    return {"nicelist": ours, "naive": theirs}, load


def quiet_writer() -> None:
    """The in-process writer logs a "batch done" line per batch at INFO: the report owns stdout."""
    writer_logger.setLevel(logging.WARNING)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)
