"""What the writer costs in DynamoDB requests and write units, against a naive one-put-per-update consumer.

Runs in-process against moto (``mock_aws``) for a fixed, seeded workload::

    .venv/bin/python -m loadtests.bench_writer [--updates 50000] [--children 5000] [--seed 23] [--json]

Workload: every child sends a GPS fix every 10 s and now and then flips its status; the updates
are delivered shuffled with some duplicates (so arrival order is not observation order), packed
into 1,000-update envelopes, 10 envelopes per SQS batch. Both consumers see the same batches:

- writer: ``writer.handler.handle`` (validate, coalesce, conditional state puts, BatchWriteItem of
  track points), with ``write_rate`` 1e6 WCU/s so the token bucket never waits;
- naive: for each update in delivery order, an unconditional PutItem of STATUS/LOCATION, and a
  PutItem of the track point for each location.

Requests and write units are counted by an event hook on each consumer's DynamoDB client, with
``writer.items.write_units`` per item sent (moto's consumed capacity is fake). A put whose
condition fails is counted: DynamoDB charges for it too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import sys
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any

for _name, _value in (
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
):
    os.environ.setdefault(_name, _value)
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # no summary line per batch
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "nicelist")

import boto3  # noqa: E402 - after the fake credentials
from moto import mock_aws  # noqa: E402

from contract.envelope import encode_envelope  # noqa: E402
from contract.keys import ATTRIBUTE_DEFINITIONS, KEY_SCHEMA, is_track  # noqa: E402
from contract.updates import parse_update  # noqa: E402
from writer.handler import build_deps, handle  # noqa: E402
from writer.items import Item, state_item, track_item, write_units  # noqa: E402
from writer.observability import logger  # noqa: E402
from writer.settings import WriterSettings  # noqa: E402

START = datetime(2026, 12, 23, 18, 0, tzinfo=UTC)
ENVELOPE_UPDATES = 1_000
BATCH_MESSAGES = 10
WRITE_RATE = 1e6
Batch = list[str]  # message bodies


# --- workload -----------------------------------------------------------------------------------


def workload(
    updates: int, children: int, seed: int, duplicates: float = 0.02
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(distinct updates, delivery stream of ``updates``): a shuffle of the distinct ones plus duplicates.

    Per child: a fix every 10 s, and on ~1 tick in 5 a status flip instead.
    """
    rng = random.Random(seed)
    extra = int(updates * duplicates)
    wanted = updates - extra
    distinct: list[dict[str, Any]] = []
    for child in range(children):
        count = wanted // children + (1 if child < wanted % children else 0)
        distinct.extend(child_timeline(rng, f"c-{child:06d}", count))
    stream = distinct + rng.choices(distinct, k=extra) if distinct else []
    rng.shuffle(stream)
    return distinct, stream


def child_timeline(rng: random.Random, child_id: str, count: int) -> Iterator[dict[str, Any]]:
    offset = rng.uniform(0, 10)
    lat, lon, verdict = rng.uniform(-60, 70), rng.uniform(-180, 180), rng.choice(["naughty", "nice"])
    for tick in range(count):
        at = (START + timedelta(seconds=offset + 10 * tick)).isoformat().replace("+00:00", "Z")
        if rng.random() < 0.2:
            verdict = "nice" if verdict == "naughty" else "naughty"
            yield {"kind": "status", "child_id": child_id, "status": verdict, "observed_at": at}
        else:
            lat = max(-90.0, min(90.0, lat + rng.uniform(-0.01, 0.01)))
            fix = {"lat": round(lat, 6), "lon": round(lon, 6), "accuracy_m": round(rng.uniform(3, 30), 1)}
            yield {"kind": "location", "child_id": child_id, "observed_at": at, **fix}


def batches(stream: Sequence[dict[str, Any]]) -> list[Batch]:
    envelopes = [encode_envelope(stream[i : i + ENVELOPE_UPDATES]) for i in range(0, len(stream), ENVELOPE_UPDATES)]
    return [envelopes[i : i + BATCH_MESSAGES] for i in range(0, len(envelopes), BATCH_MESSAGES)]


def minimum_units(batched: Sequence[Batch]) -> int:
    """One unit per distinct child·aspect per batch, plus one per distinct track point."""
    total, points = 0, set()
    for batch in batched:
        keys = set()
        for body in batch:
            for raw in json.loads(body)["updates"]:
                update = parse_update(raw)
                keys.add((update.child_id, update.aspect))
                if update.aspect == "LOCATION":
                    points.add((update.child_id, update.observed_at))
        total += len(keys)
    return total + len(points)


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Meter:
    """Counts DynamoDB write requests and the write units of the items they carry (the writer is threaded)."""

    requests: int = 0
    units: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb.PutItem", self._put)
        client.meta.events.register("provide-client-params.dynamodb.BatchWriteItem", self._batch)

    def _count(self, operation: str, items: Sequence[Item]) -> None:
        units = sum(write_units(item) for item in items)
        with self.lock:
            self.requests += 1
            self.units += units
            self.by_operation[operation] = self.by_operation.get(operation, 0) + 1

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        self._count("PutItem", [params["Item"]])

    def _batch(self, params: dict[str, Any], **_: Any) -> None:
        writes = [w["PutRequest"]["Item"] for ws in params["RequestItems"].values() for w in ws]
        self._count("BatchWriteItem", writes)


@dataclass
class Context:
    """A LambdaContext with plenty of time: the benchmark measures cost, not deadlines."""

    timeout_s: float = 900.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.started + self.timeout_s - time.monotonic()) * 1000)


def event(batch: Batch) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "body": body,
                "receiptHandle": "r",
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for body in batch
        ]
    }


def create_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        KeySchema=KEY_SCHEMA,
        BillingMode="PAY_PER_REQUEST",
    )


def put_write_rate(session: Any, stage: str) -> None:
    """The stage's drain-rate parameter, as provisioning creates it (so the writer reads it, quietly)."""
    session.client("ssm").put_parameter(Name=f"/nicelist/{stage}/write-rate", Value=str(WRITE_RATE), Type="String")


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    requests: int
    units: int
    correct: bool
    wrong_registers: int
    by_operation: dict[str, int]
    extra: dict[str, float] = field(default_factory=dict)

    def per_1000(self, value: float) -> float:
        return value * 1000 / self.updates


# --- the two consumers ----------------------------------------------------------------------------


def run_writer(session: Any, batched: Sequence[Batch], updates: int, expected: Expected) -> Result:
    sqs = session.client("sqs")
    dlq = sqs.create_queue(QueueName="nicelist-bench-updates-dlq")["QueueUrl"]
    create_table(session.client("dynamodb"), "nicelist-bench")
    put_write_rate(session, "bench")
    deps = build_deps(WriterSettings(stage="bench", write_rate=WRITE_RATE, dlq_url=dlq), session)
    meter = Meter()
    meter.attach(deps.dynamodb)
    started = time.perf_counter()
    for batch in batched:
        response = handle(event(batch), Context(), deps)
        assert response["batchItemFailures"] == [], response
    seconds = time.perf_counter() - started
    wrong = wrong_registers(session.client("dynamodb"), "nicelist-bench", expected)
    deps.executor.shutdown()
    return Result("writer", updates, seconds, meter.requests, meter.units, wrong == 0, wrong, meter.by_operation)


def run_naive(session: Any, batched: Sequence[Batch], updates: int, expected: Expected) -> Result:
    """The 'process_event does a write' consumer: one put per update, one more per track point."""
    dynamodb = session.client("dynamodb")
    create_table(dynamodb, "naive")
    meter = Meter()
    meter.attach(dynamodb)
    written_at = START.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    started = time.perf_counter()
    for batch in batched:
        for body in batch:
            for raw in json.loads(body)["updates"]:
                update = parse_update(raw)
                dynamodb.put_item(TableName="naive", Item=state_item(update, written_at))
                if update.aspect == "LOCATION":
                    dynamodb.put_item(TableName="naive", Item=track_item(update, written_at, 30))  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    wrong = wrong_registers(dynamodb, "naive", expected)
    return Result("naive", updates, seconds, meter.requests, meter.units, wrong == 0, wrong, meter.by_operation)


def expected_registers(distinct: Sequence[dict[str, Any]]) -> dict[tuple[str, str], str]:
    newest: dict[tuple[str, str], str] = {}
    for raw in distinct:
        update = parse_update(raw)
        key = (update.child_id, update.aspect)
        newest[key] = max(newest.get(key, ""), update.revision)
    return newest


def scan(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        yield from page["Items"]


def wrong_registers(dynamodb: Any, table: str, expected: Expected) -> int:
    """Registers (STATUS/LOCATION) not holding the newest observation, plus missing track points."""
    found: dict[tuple[str, str], str] = {}
    tracks = 0
    for item in scan(dynamodb, table):
        sk = item["sk"]["S"]
        if is_track(sk):
            tracks += 1
        else:
            found[(item["child_id"]["S"], sk)] = item["rev"]["S"]
    wrong = sum(1 for key, rev in expected.registers.items() if found.get(key) != rev)
    return wrong + abs(expected.tracks - tracks)


# --- memory -----------------------------------------------------------------------------------------


def writer_memory(batched: Sequence[Batch]) -> dict[str, float]:
    """tracemalloc peak of one invocation (10 x 1,000-update envelopes) on a fresh table.

    moto runs in this process, so the peak includes its request handling and the items it
    stores; the retained figure (what is still allocated after the invocation) is mostly moto's table.
    """
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        dlq = session.client("sqs").create_queue(QueueName="nicelist-mem-updates-dlq")["QueueUrl"]
        create_table(session.client("dynamodb"), "nicelist-mem")
        put_write_rate(session, "mem")
        deps = build_deps(WriterSettings(stage="mem", write_rate=WRITE_RATE, dlq_url=dlq), session)
        handle(event(batched[0][:1]), Context(), deps)  # warm: imports, clients, thread pool
        the_event = event(batched[0])
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        handle(the_event, Context(), deps)
        after, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        deps.executor.shutdown()
    return {"tracemalloc_peak_mib": (peak - before) / 2**20, "tracemalloc_retained_mib": (after - before) / 2**20}


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --- main -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    registers: dict[tuple[str, str], str]
    tracks: int


def expected_of(distinct: Sequence[dict[str, Any]]) -> Expected:
    points = {(u["child_id"], parse_update(u).observed_at) for u in distinct if u["kind"] == "location"}
    return Expected(expected_registers(distinct), len(points))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    distinct, stream = workload(args.updates, args.children, args.seed)
    batched = batches(stream)
    expected = expected_of(distinct)
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        writer = run_writer(session, batched, len(stream), expected)
        rss_after_writer = max_rss_mib()
        naive = run_naive(session, batched, len(stream), expected)
    memory = writer_memory(batched)
    return {
        "workload": {
            "updates_delivered": len(stream),
            "distinct_updates": len(distinct),
            "children": args.children,
            "batches": len(batched),
            "envelope_updates": ENVELOPE_UPDATES,
            "batch_messages": BATCH_MESSAGES,
            "seed": args.seed,
            "write_rate": WRITE_RATE,
            "minimum_units": minimum_units(batched),
        },
        "writer": writer,
        "naive": naive,
        "memory": {**memory, "ru_maxrss_mib_after_writer": rss_after_writer},
    }


def summary(found: dict[str, Any]) -> dict[str, Any]:
    work = found["workload"]
    writer: Result = found["writer"]
    naive: Result = found["naive"]

    def side(result: Result) -> dict[str, Any]:
        return {
            "requests_per_1000": round(result.per_1000(result.requests), 1),
            "units_per_1000": round(result.per_1000(result.units), 1),
            "updates_per_s": round(result.updates / result.seconds),
            "seconds": round(result.seconds, 2),
            "requests": result.requests,
            "units": result.units,
            "by_operation": result.by_operation,
            "final_state_correct": result.correct,
            "wrong_registers_or_missing_points": result.wrong_registers,
        }

    return {
        "workload": work,
        "writer": side(writer),
        "naive": side(naive),
        "writer_units_vs_minimum": round(writer.units / work["minimum_units"], 4),
        "writer_requests_vs_naive": round(writer.requests / naive.requests, 4),
        "writer_units_vs_naive": round(writer.units / naive.units, 4),
        "memory": {k: round(v, 1) for k, v in found["memory"].items()},
        "python": sys.version.split()[0],
        "moto": _moto_version(),
        "cpus": os.cpu_count(),
    }


def _moto_version() -> str:
    return metadata.version("moto")


def print_table(report: dict[str, Any]) -> None:
    work, writer, naive = report["workload"], report["writer"], report["naive"]
    print(
        f"workload: {work['updates_delivered']:,} updates delivered ({work['distinct_updates']:,} distinct) "
        f"about {work['children']:,} children, {work['batches']} batches of {work['batch_messages']} x "
        f"{work['envelope_updates']:,}-update envelopes, seed {work['seed']}, writer write_rate "
        f"{work['write_rate']:.0e} WCU/s (bucket never waits)"
    )
    rows = [
        ("DynamoDB requests / 1,000 updates", "requests_per_1000"),
        ("write units / 1,000 updates", "units_per_1000"),
        ("updates / s (in-process moto)", "updates_per_s"),
        ("final state correct", "final_state_correct"),
        ("wrong registers + missing points", "wrong_registers_or_missing_points"),
    ]
    print(f"{'':36} {'writer':>14} {'naive':>14}")
    for label, key in rows:
        print(f"{label:36} {writer[key]!s:>14} {naive[key]!s:>14}")
    print(f"{'requests by operation':36} {_ops(writer):>14} {_ops(naive):>14}")
    minimum = work["minimum_units"]
    print(
        f"minimum units for this workload: {minimum:,} ({minimum * 1000 / work['updates_delivered']:.1f} / 1,000); "
        f"writer {writer['units']:,} = {report['writer_units_vs_minimum']:.3f} x minimum (target <= 1.05)"
    )
    print(
        f"writer / naive: requests {report['writer_requests_vs_naive']:.3f}, "
        f"units {report['writer_units_vs_naive']:.3f}"
    )
    memory = report["memory"]
    print(
        f"writer memory, one invocation of 10 x 1,000 updates: tracemalloc peak "
        f"{memory['tracemalloc_peak_mib']} MiB (retained {memory['tracemalloc_retained_mib']} MiB, "
        f"moto included); ru_maxrss after the writer run {memory['ru_maxrss_mib_after_writer']} MiB"
    )
    print(f"python {report['python']}, moto {report['moto']}, {report['cpus']} CPUs")


def _ops(side: dict[str, Any]) -> str:
    return " ".join(f"{name[0]}:{count}" for name, count in sorted(side["by_operation"].items()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--updates", type=int, default=50_000, help="updates delivered (default 50,000)")
    parser.add_argument("--children", type=int, default=5_000, help="distinct children (default 5,000)")
    parser.add_argument("--seed", type=int, default=23, help="workload seed (default 23)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)  # stdout carries the report (or its JSON) only
    if args.updates < 1 or args.children < 1:
        parser.error("--updates and --children must be >= 1")
    report = summary(measure(args))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    writer_ok = report["writer"]["final_state_correct"]
    return 0 if writer_ok else 1


if __name__ == "__main__":
    sys.exit(main())
