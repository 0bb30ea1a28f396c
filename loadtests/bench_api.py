"""Benchmark (not a test): updates/s through the enqueue API, single updates vs arrays, vs a naive SQS producer.

    .venv/bin/python -m loadtests.bench_api                       # about 3 minutes
    .venv/bin/python -m loadtests.bench_api --servers 2x8,1x16 --seconds 10 --json

For each API server shape (``WORKERSxTHREADS`` of gunicorn gthread) and scenario this starts the
local stack on its own ports (4710-4713) and stops its writer runtime at once: the figures are the
API and SQS alone, and the writer would otherwise compete for the same cores and drain the queue
under the count. Each scenario drives load for ``--seconds`` from a separate process (a threaded
urllib3 client, or for ``naive`` a threaded boto3 client calling ``SendMessage`` once per update).

SQS requests are counted on moto server's side: its access log has one line per request, and with
the writer stopped the only SQS clients during a scenario are the API's workers (or the naive
producer). They are cross-checked against the messages that landed on the queue. Every scenario
gets a fresh stack, so an empty queue: moto's SQS slows down as a queue grows (see BENCHMARKS.md).
CPU seconds per process group (psutil) show who used the 2 cores: moto, the API, the load generator.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # (installed with locust, in the dev extra)

from nicelist.local.stack import LocalStack, StackConfig

NAIVE_QUEUE = "nicelist-bench-naive"
DEFAULT_SCENARIOS = "single:8,array100:1,array100:2,array100:4,array100:8,array500:4,naive:8"


# -- the load generator (runs in its own process: ``python -m loadtests.bench_api drive ...``) --------------------


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _run_threads(threads: int, seconds: float, one: Callable[[int, int], tuple[int, float] | None]) -> dict[str, Any]:
    """Call ``one(thread, i)`` in a loop on each thread until the deadline; it returns (updates, seconds) or None."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    updates = [0] * threads
    errors = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(k: int) -> None:
        i = k
        while time.perf_counter() < deadline:
            result = one(k, i)
            if result is None:
                errors[k] += 1
            else:
                updates[k] += result[0]
                latencies[k].append(result[1])
            i += threads

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    flat = [value for per_thread in latencies for value in per_thread]
    return {
        "seconds": round(elapsed, 2),
        "requests": len(flat),
        "errors": sum(errors),
        "updates": sum(updates),
        "p50_ms": round(1000 * _percentile(flat, 0.50), 1),
        "p99_ms": round(1000 * _percentile(flat, 0.99), 1),
    }


def drive_api(url: str, key: str, batch: int, threads: int, seconds: float) -> dict[str, Any]:
    import urllib3  # noqa: PLC0415 (only the driver process needs it)

    from producers.synthetic import generate  # noqa: PLC0415

    bodies = []
    for seed in range(64):  # distinct bodies, encoded before the clock starts
        updates = generate(batch, children=2000, seed=seed)
        bodies.append(json.dumps(updates if batch > 1 else updates[0], separators=(",", ":")).encode())
    http = urllib3.PoolManager(maxsize=threads, retries=False, timeout=urllib3.Timeout(30))
    headers = {"x-api-key": key, "content-type": "application/json"}

    def one(_: int, i: int) -> tuple[int, float] | None:
        started = time.perf_counter()
        response = http.request("POST", f"{url}/v1/updates", body=bodies[i % len(bodies)], headers=headers)
        took = time.perf_counter() - started
        return (batch, took) if response.status == 202 else None

    return _run_threads(threads, seconds, one)


def drive_naive(endpoint: str, queue_url: str, threads: int, seconds: float) -> dict[str, Any]:
    """One ``SendMessage`` per update, counted client-side with a botocore hook too."""
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    from producers.synthetic import generate  # noqa: PLC0415

    bodies = [json.dumps(u, separators=(",", ":")) for u in generate(5000, children=2000, seed=1)]
    sqs = boto3.client(
        "sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing", config=Config(max_pool_connections=threads, retries={"max_attempts": 1}),
    )  # fmt: skip
    calls: list[str] = []
    sqs.meta.events.register("before-call.sqs.*", lambda model, **_: calls.append(model.name))

    def one(_: int, i: int) -> tuple[int, float] | None:
        started = time.perf_counter()
        sqs.send_message(QueueUrl=queue_url, MessageBody=bodies[i % len(bodies)])
        return 1, time.perf_counter() - started

    result = _run_threads(threads, seconds, one)
    result["client_side_sqs_requests"] = len(calls)
    return result


# -- the orchestration (this process: the stack, counting, the table) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    server: str
    scenario: str
    threads: int
    updates_per_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    updates: int
    sqs_requests: int
    sqs_per_1k: float
    messages: int
    cpu: dict[str, float]


def _group(process: psutil.Process) -> str:
    line = " ".join(process.cmdline())
    for needle, name in (("moto.server", "moto"), ("producers.serve", "api"), ("bench_api", "loadgen")):
        if needle in line:
            return name
    return "other"


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) so far of this process's descendants, by role."""
    totals: dict[str, float] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            group = _group(child)
        except psutil.Error:
            continue
        totals[group] = totals.get(group, 0.0) + times.user + times.system
    return totals


def moto_requests(log: Path) -> int:
    with log.open("rb") as lines:
        return sum(1 for line in lines if b'"POST / HTTP' in line)


def queue_messages(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def run_scenario(stack: LocalStack, scenario: str, threads: int, seconds: float) -> Row:
    assert stack.provisioned is not None
    sqs = stack.client("sqs")
    naive = scenario == "naive"
    queue_url = sqs.create_queue(QueueName=NAIVE_QUEUE)["QueueUrl"] if naive else stack.provisioned.queue_url
    argv = [sys.executable, "-m", "loadtests.bench_api", "drive", "--threads", str(threads), "--seconds", str(seconds)]
    if naive:
        argv += ["--naive-endpoint", stack.aws_url, "--queue-url", queue_url]
    else:
        argv += ["--url", stack.api_url, "--key", stack.config.api_key, "--batch", str(_batch(scenario))]
    log = stack.config.run_dir / "moto.log"
    messages_before, cpu_before = queue_messages(sqs, queue_url), cpu_seconds()
    time.sleep(0.5)  # let moto's log catch up with the calls just made
    requests_before = moto_requests(log)
    driven = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=seconds + 120)
    cpu_after = cpu_seconds()  # moto and the API; the driver (exited by now) reports its own CPU time
    time.sleep(0.5)
    sqs_requests = moto_requests(log) - requests_before
    messages = queue_messages(sqs, queue_url) - messages_before
    result = json.loads(driven.stdout)
    cpu = {k: round(cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0), 1) for k in ("moto", "api")}
    cpu["loadgen"] = result["cpu_seconds"]
    return Row(
        server=f"{stack.config.api_workers}x{stack.config.api_threads}",
        scenario=scenario,
        threads=threads,
        updates_per_s=round(result["updates"] / result["seconds"]),
        requests_per_s=round(result["requests"] / result["seconds"], 1),
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        errors=result["errors"],
        updates=result["updates"],
        sqs_requests=sqs_requests,
        sqs_per_1k=round(1000 * sqs_requests / max(1, result["updates"]), 2),
        messages=messages,
        cpu=cpu,
    )


def _batch(scenario: str) -> int:
    return 1 if scenario == "single" else int(scenario.removeprefix("array"))


def run_server(shape: str, scenarios: list[tuple[str, int]], args: argparse.Namespace) -> list[Row]:
    """A fresh stack per scenario: an empty queue each time (moto's SQS slows down as a queue grows)."""
    workers, threads = (int(n) for n in shape.split("x"))
    config = StackConfig(
        moto_port=args.moto_port, meter_port=args.moto_port + 1, api_port=args.moto_port + 2,
        control_port=args.moto_port + 3, run_dir=args.run_dir / shape, api_workers=workers, api_threads=threads,
    )  # fmt: skip
    rows = []
    for scenario, load_threads in scenarios:
        (config.run_dir / "moto.log").unlink(missing_ok=True)
        with LocalStack(config) as stack:
            assert stack.runtime is not None
            stack.runtime.stop()  # the API and SQS alone (see the module docstring)
            row = run_scenario(stack, scenario, load_threads, args.seconds)
        print(render([row], header=False), flush=True)
        rows.append(row)
    return rows


HEADER = (
    f"{'server':<7}{'scenario':<10}{'thr':>4}{'updates/s':>10}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
    f"{'SQS req':>8}{'SQS/1k':>8}{'msgs':>7}{'fewer':>7}  CPU s moto/api/loadgen"
)


def render(rows: list[Row], header: bool = True, naive_per_1k: float | None = None) -> str:
    lines = [HEADER] if header else []
    for r in rows:
        fewer = f"{naive_per_1k / r.sqs_per_1k:.0f}x" if naive_per_1k and r.sqs_per_1k else "-"
        cpu = "/".join(f"{r.cpu.get(k, 0):.1f}" for k in ("moto", "api", "loadgen"))
        lines.append(
            f"{r.server:<7}{r.scenario:<10}{r.threads:>4}{r.updates_per_s:>10.0f}{r.requests_per_s:>8}{r.p50_ms:>8}"
            f"{r.p99_ms:>8}{r.errors:>7}{r.sqs_requests:>8}{r.sqs_per_1k:>8}{r.messages:>7}{fewer:>7}  {cpu}"
        )
    return "\n".join(lines)


def _drive_main(args: argparse.Namespace) -> None:
    started = time.process_time()
    if args.naive_endpoint:
        result = drive_naive(args.naive_endpoint, args.queue_url, args.threads, args.seconds)
    else:
        result = drive_api(args.url, args.key, args.batch, args.threads, args.seconds)
    result["cpu_seconds"] = round(time.process_time() - started, 1)
    print(json.dumps(result))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_api", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    drive = commands.add_parser("drive", help="(internal) the load generator process")
    drive.add_argument("--url")
    drive.add_argument("--key")
    drive.add_argument("--batch", type=int, default=1)
    drive.add_argument("--naive-endpoint")
    drive.add_argument("--queue-url")
    drive.add_argument("--threads", type=int, default=4)
    drive.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--servers", default="2x8", help="API shapes WORKERSxTHREADS, comma-separated")
    parser.add_argument("--scenarios", default=DEFAULT_SCENARIOS, help="SCENARIO:THREADS,... (single, arrayN, naive)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per scenario")
    parser.add_argument("--moto-port", type=int, default=4710, help="moto; the meter, API, control use the next 3")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/bench-api"))
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.command == "drive":
        _drive_main(args)
        return
    scenarios = [(name, int(threads)) for name, threads in (s.split(":") for s in args.scenarios.split(","))]
    print(HEADER, flush=True)
    rows = [row for shape in args.servers.split(",") for row in run_server(shape, scenarios, args)]
    naive = [r.sqs_per_1k for r in rows if r.scenario == "naive"]
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        print("\nsummary (fewer = naive SQS requests per 1k updates / this row's):")
        print(render(rows, naive_per_1k=naive[0] if naive else None))


if __name__ == "__main__":
    main()
