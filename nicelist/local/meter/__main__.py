"""``python -m nicelist.local.meter``: run the meter as its own process until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence

import boto3

from nicelist.local.meter.autoscaling import AutoScaler
from nicelist.local.meter.core import DEFAULT_BURST_SECONDS
from nicelist.local.meter.server import DEFAULT_UPSTREAM, DynamoMeter
from nicelist.local.meter.tables import DEFAULT_REGION


def _table_capacity(text: str) -> tuple[str, int]:
    table, sep, wcu = text.rpartition("=")
    if not sep or not table or not wcu.isdigit():
        raise argparse.ArgumentTypeError(f"expected TABLE=WCU, got {text!r}")
    return table, int(wcu)


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m nicelist.local.meter",
        description="Meter (and throttle) DynamoDB writes between clients and moto server. "
        "Point clients at it with AWS_ENDPOINT_URL_DYNAMODB=http://HOST:PORT.",
    )
    cli.add_argument("--upstream", default=DEFAULT_UPSTREAM, help="moto server URL (default: %(default)s)")
    cli.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    cli.add_argument("--port", type=int, default=4567, help="port to listen on, 0 for any (default: %(default)s)")
    cli.add_argument(
        "--capacity",
        type=_table_capacity,
        action="append",
        default=[],
        metavar="TABLE=WCU",
        help="provisioned write capacity of one table, whatever the table states (repeatable)",
    )
    cli.add_argument(
        "--default-capacity",
        type=int,
        help="WCU/s of tables without --capacity that state none themselves (default: unlimited)",
    )
    cli.add_argument(
        "--burst-seconds",
        type=float,
        default=DEFAULT_BURST_SECONDS,
        help="seconds of unused capacity kept as burst credit, as DynamoDB keeps 300; "
        "0 is strict: no second over capacity (default: %(default)s)",
    )
    cli.add_argument("--no-enforce", action="store_true", help="only record, never throttle")
    cli.add_argument(
        "--autoscaling",
        action="store_true",
        help="emulate DynamoDB auto scaling: apply the upstream's Application Auto Scaling target tracking "
        "policies on write capacity (nicelist/local/meter/autoscaling.py)",
    )
    cli.add_argument(
        "--time-factor",
        type=_time_factor,
        default=1.0,
        help="compress time for the auto scaling rules only: one emulated minute is 60/F real seconds "
        "(default: %(default)s, real time); per-second enforcement is never compressed",
    )
    return cli


def _time_factor(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"expected a number above 0 and at most 600, got {text!r}")
    return value


def _autoscaler(meter: DynamoMeter, upstream: str, time_factor: float) -> AutoScaler:
    """Clients of the upstream (moto) with the process's credentials and region (the stack sets them)."""
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION", DEFAULT_REGION))
    clients = {name: session.client(name, endpoint_url=upstream) for name in ("application-autoscaling", "dynamodb")}
    return AutoScaler(meter.meter, clients["application-autoscaling"], clients["dynamodb"], time_factor=time_factor)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    meter = DynamoMeter(
        upstream=args.upstream,
        host=args.host,
        port=args.port,
        capacity=dict(args.capacity),
        default_capacity=args.default_capacity,
        enforce=not args.no_enforce,
        burst_seconds=args.burst_seconds,
    )
    meter.start()
    print(f"meter listening on {meter.url} -> {args.upstream} (stats: {meter.url}/_meter/stats)", flush=True)
    scaler = _autoscaler(meter, args.upstream, args.time_factor).start() if args.autoscaling else None
    if scaler is not None:
        print(f"auto scaling emulated: one minute every {scaler.minute_seconds:g} s", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        meter.serve_forever()
    if scaler is not None:
        scaler.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
