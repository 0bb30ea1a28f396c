"""Benchmark (not a test): SQS requests and time per 1,000 updates, packing Producer vs naive.

The naive producer calls ``SendMessage`` once per update (what a producer without the SDK
does); the packing ``Producer`` sends envelopes of up to 256 KiB in ``SendMessageBatch``
calls. Both run against a moto server on a random port; requests are counted with a
botocore event hook, so they are the calls a real queue would bill.

    .venv/bin/python loadtests/bench_producers.py --updates 1000 [--json]

moto's SQS slows down as a queue grows, so the naive run gets slower per update as it goes;
keep ``--updates`` small (the request counts, not the timings, are the point).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from producers import Producer, ProducerSettings
from producers.synthetic import generate


def _client(endpoint: str) -> tuple[Any, list[str]]:
    calls: list[str] = []
    sqs = boto3.client(
        "sqs", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    sqs.meta.events.register("before-call.sqs.*", lambda model, **_: calls.append(model.name))
    return sqs, calls


def naive(sqs: Any, url: str, updates: list[dict[str, Any]]) -> None:
    for update in updates:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(update, separators=(",", ":")))


def packing(sqs: Any, url: str, updates: list[dict[str, Any]]) -> None:
    with Producer.from_sqs(sqs, url, settings=ProducerSettings(), background=False) as producer:
        producer.add_many(updates)


def measure(
    name: str, send: Callable[[Any, str, list[dict[str, Any]]], None], endpoint: str, updates: list[dict[str, Any]]
) -> dict[str, Any]:
    sqs, calls = _client(endpoint)
    url = sqs.create_queue(QueueName=f"nicelist-bench-{name}")["QueueUrl"]
    calls.clear()
    started = time.perf_counter()
    send(sqs, url, updates)
    seconds = time.perf_counter() - started
    requests = len(calls)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return {
        "producer": name,
        "updates": len(updates),
        "requests": requests,
        "requests_per_1000_updates": round(1000 * requests / len(updates), 2),
        "messages": int(attributes["Attributes"]["ApproximateNumberOfMessages"]),
        "seconds": round(seconds, 3),
        "updates_per_second": round(len(updates) / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's per-request access log
    updates = generate(args.updates, children=max(1, args.updates // 10), seed=1)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        results = [measure("naive", naive, endpoint, updates), measure("packing", packing, endpoint, updates)]
    finally:
        server.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'producer':<10}{'requests/1k':>14}{'requests':>10}{'messages':>10}{'seconds':>10}{'updates/s':>12}")
    for r in results:
        print(
            f"{r['producer']:<10}{r['requests_per_1000_updates']:>14}{r['requests']:>10}"
            f"{r['messages']:>10}{r['seconds']:>10}{r['updates_per_second']:>12}"
        )


if __name__ == "__main__":
    main()
