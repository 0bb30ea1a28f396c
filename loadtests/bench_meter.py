"""How fast is moto server behind the meter on this machine, and what does the meter cost?

Starts moto server and the meter as separate processes (as the local stack runs them), then
drives DynamoDB writes from N client threads for a few seconds per scenario:

    .venv/bin/python loadtests/bench_meter.py --threads 4 --seconds 10

Scenarios: PutItem direct to moto vs through the meter (its overhead), conditional 1-WCU
PutItem through the meter, BatchWriteItem of 25 direct and through the meter; the table has no
capacity for those (the meter is told so: it would otherwise throttle the on-demand table as
DynamoDB does), so the figures are moto's ceiling. With ``--capacity W`` a last scenario provisions
W WCU/s and checks that the peak one-second rate the meter saw stays <= W: the meter runs strict
(``--burst-seconds 0``), without DynamoDB's burst credit, so no second may exceed W.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.config import Config

TABLE = "bench-meter"
for _name, _value in (
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
):
    os.environ.setdefault(_name, _value)
Scenario = Callable[[Any, str, int], int]
"""(client, thread tag, sequence) -> write units of one call."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=1).close()
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def _processes(python: str) -> Iterator[tuple[str, str, dict[str, int]]]:
    moto_port, meter_port = _free_port(), _free_port()
    moto = subprocess.Popen(
        [python.replace("python", "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    moto_url = f"http://127.0.0.1:{moto_port}"
    meter = subprocess.Popen(
        [
            python,
            "-m",
            "nicelist.local.meter",
            "--upstream",
            moto_url,
            "--port",
            str(meter_port),
            "--burst-seconds",
            "0",
        ],
        stdout=subprocess.DEVNULL,
    )
    meter_url = f"http://127.0.0.1:{meter_port}"
    try:
        _wait_for(moto_url + "/moto-api/")
        _wait_for(meter_url + "/_meter/health")
        yield moto_url, meter_url, {"moto": moto.pid, "meter": meter.pid}
    finally:
        for process in (meter, moto):
            process.terminate()
            process.wait(10)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc), to cost each server per request."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _put(client: Any, tag: str, n: int) -> int:
    client.put_item(TableName=TABLE, Item={"pk": {"S": f"{tag}-{n}"}, "sk": {"S": "STATUS"}})
    return 1


def _conditional_put(client: Any, tag: str, n: int) -> int:
    client.put_item(
        TableName=TABLE,
        Item={"pk": {"S": f"{tag}-c{n}"}, "sk": {"S": "STATUS"}, "observed_at": {"S": "2026-12-23T18:04:05.123000Z"}},
        ConditionExpression="attribute_not_exists(observed_at) OR observed_at < :t",
        ExpressionAttributeValues={":t": {"S": "2026-12-23T18:04:05.123000Z"}},
    )
    return 1


def _batch(client: Any, tag: str, n: int) -> int:
    requests = [{"PutRequest": {"Item": {"pk": {"S": f"{tag}-b{n}-{i}"}, "sk": {"S": "LOC"}}}} for i in range(25)]
    response = client.batch_write_item(RequestItems={TABLE: requests})
    return 25 - len(response.get("UnprocessedItems", {}).get(TABLE, []))


def _throttled_put(client: Any, tag: str, n: int) -> int:
    try:
        return _conditional_put(client, tag, n)
    except client.exceptions.ProvisionedThroughputExceededException:
        time.sleep(0.01)
        return 0


def _http(url: str, method: str = "GET", payload: Any = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=10) as response:
        return json.load(response)


def _capacity_check(meter_url: str, capacity: int, threads: int, seconds: float) -> None:
    _http(meter_url + "/_meter/capacity", "PUT", {"table": TABLE, "wcu": capacity})
    _http(meter_url + "/_meter/reset", "POST", {})
    calls, units = _drive(meter_url, _throttled_put, threads, seconds)
    table = _http(f"{meter_url}/_meter/stats?seconds={int(seconds) + 2}")["tables"][TABLE]
    peak = table["peak_units_per_second"]
    print(
        f"capacity {capacity} WCU/s: {units:.1f} WCU/s accepted, {calls:.1f} calls/s, "
        f"throttled units {table['totals']['throttled_units']}, peak one-second {peak} "
        f"= {peak / capacity:.2f} x capacity"
    )


def _drive(endpoint: str, scenario: Scenario, threads: int, seconds: float) -> tuple[float, float]:
    """Run ``scenario`` in ``threads`` threads for ``seconds``; return (calls/s, units/s)."""
    config = Config(retries={"total_max_attempts": 1}, max_pool_connections=threads)
    clients = [boto3.session.Session().client("dynamodb", endpoint_url=endpoint, config=config) for _ in range(threads)]
    counts = [[0, 0] for _ in range(threads)]
    stop = time.monotonic() + seconds

    def work(index: int) -> None:
        n = 0
        while time.monotonic() < stop:
            counts[index][1] += scenario(clients[index], f"{endpoint[-5:]}-{index}-{time.time_ns()}", n)
            counts[index][0] += 1
            n += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    return sum(c[0] for c in counts) / elapsed, sum(c[1] for c in counts) / elapsed


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--threads", type=int, default=4)
    cli.add_argument("--seconds", type=float, default=10.0)
    cli.add_argument("--capacity", type=int, help="also check an enforced capacity of this many WCU/s")
    args = cli.parse_args()
    with _processes(sys.executable) as (moto_url, meter_url, pids):
        boto3.client("dynamodb", endpoint_url=moto_url).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        _http(meter_url + "/_meter/capacity", "PUT", {"table": TABLE, "wcu": None})  # unlimited: moto's ceiling
        scenarios: list[tuple[str, str, Scenario]] = [
            ("PutItem direct to moto", moto_url, _put),
            ("PutItem through the meter", meter_url, _put),
            ("conditional PutItem (1 WCU) through the meter", meter_url, _conditional_put),
            ("BatchWriteItem x25 direct to moto", moto_url, _batch),
            ("BatchWriteItem x25 through the meter", meter_url, _batch),
        ]
        results = []
        for name, endpoint, scenario in scenarios:
            before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            calls, units = _drive(endpoint, scenario, args.threads, args.seconds)
            total = calls * args.seconds
            cpu_ms = {k: round(1000 * (_cpu_seconds(pid) - before[k]) / total, 2) for k, pid in pids.items()}
            results.append(
                {
                    "scenario": name,
                    "calls_per_s": round(calls, 1),
                    "wcu_per_s": round(units, 1),
                    "cpu_ms_per_call": cpu_ms,
                }
            )
            print(
                f"{name:48s} {calls:8.1f} calls/s {units:9.1f} WCU/s  CPU ms/call: "
                f"moto {cpu_ms['moto']:.2f}, meter {cpu_ms['meter']:.2f}",
                flush=True,
            )
        table = _http(meter_url + "/_meter/stats?seconds=1")["tables"][TABLE]
        print(json.dumps({"threads": args.threads, "seconds": args.seconds, "results": results}))
        print(f"meter saw: totals {table['totals']}, peak one-second units {table['peak_units_per_second']}")
        if args.capacity:
            _capacity_check(meter_url, args.capacity, args.threads, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
