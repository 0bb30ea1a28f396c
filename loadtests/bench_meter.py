"""How fast is moto server behind the meter on this machine, and what does the meter cost?

Starts moto server and the meter as separate processes (as the local stack runs them), then
drives DynamoDB writes from N client threads for a few seconds per scenario:

    .venv/bin/python loadtests/bench_meter.py --threads 4 --seconds 10

Scenarios: PutItem direct to moto vs through the meter (its overhead), conditional 1-WCU
PutItem through the meter, BatchWriteItem of 25 direct and through the meter. The meter runs
with --no-enforce so the figures are moto's ceiling, not a capacity.
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
def _processes(python: str) -> Iterator[tuple[str, str]]:
    moto_port, meter_port = _free_port(), _free_port()
    moto = subprocess.Popen(
        [python.replace("python", "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    moto_url = f"http://127.0.0.1:{moto_port}"
    meter = subprocess.Popen(
        [python, "-m", "nicelist.local.meter", "--upstream", moto_url, "--port", str(meter_port), "--no-enforce"],
        stdout=subprocess.DEVNULL,
    )
    meter_url = f"http://127.0.0.1:{meter_port}"
    try:
        _wait_for(moto_url + "/moto-api/")
        _wait_for(meter_url + "/_meter/health")
        yield moto_url, meter_url
    finally:
        for process in (meter, moto):
            process.terminate()
            process.wait(10)


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
    args = cli.parse_args()
    with _processes(sys.executable) as (moto_url, meter_url):
        boto3.client("dynamodb", endpoint_url=moto_url).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        scenarios: list[tuple[str, str, Scenario]] = [
            ("PutItem direct to moto", moto_url, _put),
            ("PutItem through the meter", meter_url, _put),
            ("conditional PutItem (1 WCU) through the meter", meter_url, _conditional_put),
            ("BatchWriteItem x25 direct to moto", moto_url, _batch),
            ("BatchWriteItem x25 through the meter", meter_url, _batch),
        ]
        results = []
        for name, endpoint, scenario in scenarios:
            calls, units = _drive(endpoint, scenario, args.threads, args.seconds)
            results.append({"scenario": name, "calls_per_s": round(calls, 1), "wcu_per_s": round(units, 1)})
            print(f"{name:48s} {calls:8.1f} calls/s {units:9.1f} WCU/s", flush=True)
        with urllib.request.urlopen(meter_url + "/_meter/stats?seconds=1") as response:
            table = json.load(response)["tables"][TABLE]
        print(json.dumps({"threads": args.threads, "seconds": args.seconds, "results": results}))
        print(f"meter saw: totals {table['totals']}, peak one-second units {table['peak_units_per_second']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
