"""Where a spike runs: the local stack it starts itself, or a deployed stage (or a running ``nicelist up``).

A ``Target`` holds what the runner needs from either: the API's URL and key, the environment that
points the SDK users at the stage's queue, the queue and DLQ, how to read the table back, and the
meter watching the table (always locally; on a deployed stage only if ``--meter-url`` names one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from contract.keys import PARTITION_KEY, SORT_KEY
from contract.names import StageNames
from loadtests.reconcile import Acknowledged, by_query, by_scan
from nicelist.demo.verify import Verdict
from nicelist.local.stack import LocalStack, StackConfig
from nicelist.options import LOCAL_CREDENTIALS, AwsTarget
from nicelist.reader import ChildReader
from nicelist.resources import find_queue_url


class TargetError(RuntimeError):
    """The stage to load cannot be used (no queue, no DLQ)."""


@dataclass(slots=True)
class Target:
    kind: str  # "local stack" (started here) or "stage <name>"
    api_url: str
    api_key: str
    locust_env: dict[str, str]  # SDK users: boto3's chain and the queue
    sqs: Any
    queue_url: str
    dlq_url: str
    table: str
    dynamodb: Any  # for reading back (locally: moto itself, not through the meter)
    meter_url: str | None
    budget: float | None
    in_flight: Callable[[], int]  # writer invocations running now (0 where unknown)
    scan_allowed: bool

    def reconcile(self, acknowledged: Acknowledged, how: str) -> Verdict:
        if how == "scan":
            if not self.scan_allowed:
                raise TargetError("a deployed stage is reconciled by query only (a scan reads the whole table)")
            return by_scan(self.dynamodb, self.table, acknowledged)
        return by_query(ChildReader(self.dynamodb, self.table), acknowledged)


@contextmanager
def local_target(config: StackConfig) -> Iterator[Target]:
    """Start the stack on its own ports, yield it as a target, always stop it."""
    with LocalStack(config) as stack:
        assert stack.provisioned is not None and stack.runtime is not None
        provisioned, runtime = stack.provisioned, stack.runtime
        env = {
            **LOCAL_CREDENTIALS,
            "AWS_DEFAULT_REGION": stack.aws_env()["AWS_REGION"],
            "AWS_ENDPOINT_URL_SQS": stack.aws_url,
            "NICELIST_QUEUE_URL": provisioned.queue_url,
        }
        yield Target(
            kind="local stack",
            api_url=stack.api_url,
            api_key=config.api_key,
            locust_env=env,
            sqs=stack.client("sqs"),
            queue_url=provisioned.queue_url,
            dlq_url=provisioned.dlq_url,
            table=provisioned.table_name,
            dynamodb=stack.client("dynamodb"),
            meter_url=stack.dynamodb_url,
            budget=config.budget,
            in_flight=lambda: runtime.stats().in_flight,
            scan_allowed=True,
        )


def stage_target(aws: AwsTarget, api_url: str, api_key: str, meter_url: str | None = None) -> Target:
    """A deployed stage through boto3's chain (``--region``, ``--profile``, ``--endpoint-url``)."""
    names = StageNames(aws.stage)
    sqs = aws.client("sqs")
    queue_url, dlq_url = find_queue_url(sqs, names.queue), find_queue_url(sqs, names.dlq)
    if queue_url is None or dlq_url is None:
        raise TargetError(f"stage {aws.stage!r} has no queue {names.queue} or DLQ {names.dlq}")
    env = {"NICELIST_STAGE": aws.stage, "NICELIST_QUEUE_URL": queue_url}
    env |= {"AWS_PROFILE": aws.profile} if aws.profile else {}
    env |= {"AWS_DEFAULT_REGION": aws.region} if aws.region else {}
    env |= {"AWS_ENDPOINT_URL_SQS": aws.endpoint} if aws.endpoint else {}
    env |= LOCAL_CREDENTIALS if aws.is_local else {}
    return Target(
        kind=f"stage {aws.stage}",
        api_url=api_url.rstrip("/"),
        api_key=api_key,
        locust_env=env,
        sqs=sqs,
        queue_url=queue_url,
        dlq_url=dlq_url,
        table=names.table,
        dynamodb=aws.client("dynamodb"),
        meter_url=meter_url,
        budget=_write_rate(aws.client("ssm"), names.write_rate_parameter),
        in_flight=lambda: 0,
        scan_allowed=False,
    )


def _write_rate(ssm: Any, parameter: str) -> float | None:
    try:
        return float(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    except (ClientError, ValueError):
        return None


def drop_one_register(target: Target, acknowledged: Acknowledged) -> tuple[str, str]:
    """Test hook (``--drop-update``): delete one acknowledged register, so the reconcile must fail."""
    if not target.scan_allowed:
        raise TargetError("--drop-update deletes from the table: local stack only")
    child, aspect = min(acknowledged.expected.registers)
    target.dynamodb.delete_item(TableName=target.table, Key={PARTITION_KEY: {"S": child}, SORT_KEY: {"S": aspect}})
    return child, aspect
