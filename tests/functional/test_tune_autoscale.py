"""``nicelist tune --auto --once`` on a deployed stage faked with moto (tests/support/deployed.py).

moto runs no Lambda and publishes no metric, so each test puts what AWS would publish
(``AWS/Lambda ConcurrentExecutions``, ``AWS/DynamoDB ConsumedWriteCapacityUnits`` and
``WriteThrottleEvents``) with PutMetricData and messages in the queue; the command's effect is read
back from moto itself: the mapping's MaximumConcurrency, reserved concurrency and the SSM C."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from contract.names import StageNames
from nicelist.cli import main
from nicelist.provision import Clients
from nicelist.tuning.aws import AwsStage
from nicelist.tuning.model import StageUnavailable
from tests.support.deployed import REGION, STAGE, deploy_stage, writer_mapping

NAMES = StageNames("dev")
# 5 messages of 10 updates at 10 WCU/s take about 7 s to drain: past a --drain-target of 5 s. (Messages
# of thousands of updates would be budget-bound at any C: a full batch no longer fits an invocation.)
AUTO = ["tune", *STAGE, "--auto", "--once", "--max", "8", "--updates-per-message", "10", "--drain-target", "5"]
AUTO += ["--json"]


@pytest.fixture
def stage() -> Iterator[Clients]:
    with mock_aws():
        yield deploy_stage(reserved=2)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    seen: list[float] = []
    monkeypatch.setattr("nicelist.tuning.command.time.sleep", seen.append)
    return seen


def metric(namespace: str, name: str, dimension: tuple[str, str], value: float) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": name, "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}], "Value": value}
        ],
    )


def executions(value: float) -> None:
    metric("AWS/Lambda", "ConcurrentExecutions", ("FunctionName", NAMES.writer_function), value)


def table_rate(wcu_per_second: float) -> None:
    """What DynamoDB publishes: the minute's sum of consumed write units."""
    metric("AWS/DynamoDB", "ConsumedWriteCapacityUnits", ("TableName", NAMES.table), wcu_per_second * 60)


def backlog(messages: int) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=NAMES.queue)["QueueUrl"]
    for index in range(messages):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": index}))


def auto(*extra: str) -> tuple[Result, dict[str, Any]]:
    result = CliRunner().invoke(main, [*AUTO, *extra])
    return result, json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}


def live() -> tuple[int, int, str]:
    """(reserved, the mapping's maximum, C)."""
    lam, ssm = boto3.client("lambda", region_name=REGION), boto3.client("ssm", region_name=REGION)
    reserved = lam.get_function_concurrency(FunctionName=NAMES.writer_function)["ReservedConcurrentExecutions"]
    c = ssm.get_parameter(Name=NAMES.writer_concurrency_parameter)["Parameter"]["Value"]
    return int(reserved), int(writer_mapping()["ScalingConfig"]["MaximumConcurrency"]), str(c)


def test_a_backlog_with_the_budget_unspent_raises_c_in_the_safe_order(stage: Clients, waits: list[float]) -> None:
    # GIVEN 5 messages of 10 updates (about 7 s at 10 WCU/s), the table at 10 of W 100 WCU/s,
    # and both executions busy
    backlog(5)
    table_rate(10)
    executions(2)
    # WHEN one step runs
    result, step = auto()
    # THEN C doubles (the most one step may; 2 x 100 / 10 = 20 would spend W), C went up first and waited
    assert result.exit_code == 0, result.output
    assert (step["action"], step["before"], step["after"], step["applied"]) == ("raise", 2, 4, True)
    assert step["signals"]["busy_by"] == "cloudwatch" and step["signals"]["rate_by"] == "cloudwatch"
    assert [s["action"] for s in step["steps"]] == ["writer-concurrency", "wait", "reserved", "mapping"]
    assert waits == [65.0]
    assert live() == (4, 4, "4")


def test_idle_executions_lower_c_and_c_comes_down_last_after_a_wait(stage: Clients, waits: list[float]) -> None:
    CliRunner().invoke(main, ["tune", *STAGE, "--concurrency", "6", "--settle-seconds", "0"])
    waits.clear()
    # GIVEN an empty queue and at most 1 of 6 executions running over the last minutes
    executions(1)
    result, step = auto()
    assert result.exit_code == 0, result.output
    assert (step["action"], step["before"], step["after"]) == ("lower", 6, 3)
    # the mapping's maximum comes down first; C only once no invocation of the larger maximum can still
    # run; reserved concurrency stays (the autoscaler raises it when it must, and never lowers it)
    assert [s["action"] for s in step["steps"]] == ["mapping", "wait", "writer-concurrency"]
    assert waits == [65.0]
    assert live() == (6, 3, "3")


def test_never_raises_while_the_table_throttles(stage: Clients, waits: list[float]) -> None:
    backlog(5)
    table_rate(10)
    executions(2)
    metric("AWS/DynamoDB", "WriteThrottleEvents", ("TableName", NAMES.table), 3)
    result, step = auto()
    assert result.exit_code == 0, result.output
    assert step["action"] == "hold"
    assert any("never raise while the table throttles" in reason for reason in step["reasons"])
    assert live() == (2, 2, "2")


def test_dry_run_decides_and_says_why_but_changes_nothing(stage: Clients, waits: list[float]) -> None:
    backlog(5)
    table_rate(10)
    executions(2)
    _, step = auto("--dry-run")
    assert (step["action"], step["after"], step["applied"]) == ("raise", 4, False)
    assert live() == (2, 2, "2") and waits == []
    # the same without --json: each decision with its reasons, and where each signal came from
    result = CliRunner().invoke(main, [*AUTO[:-1], "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "raise C 2 -> 4: backlog 5" in result.stdout and "(dry run)" in result.stdout
    assert "busy 2.0 (cloudwatch)" in result.stdout


def test_a_spent_budget_holds(stage: Clients, waits: list[float]) -> None:
    backlog(5)
    table_rate(95)
    executions(2)
    _, step = auto("--updates-per-message", "1000")  # about 72 s to drain at 95 WCU/s: pressure, W spent
    assert step["action"] == "hold"
    assert any("budget spent" in reason for reason in step["reasons"]), step["reasons"]


@pytest.mark.parametrize(
    "arguments",
    [
        ["--auto"],  # no --max
        ["--auto", "--max", "4", "--concurrency", "3"],
        ["--auto", "--max", "4", "--min", "6"],
        ["--auto", "--max", "1"],  # below AWS's 2
    ],
)
def test_usage_errors(arguments: list[str]) -> None:
    with mock_aws():
        assert CliRunner().invoke(main, ["tune", *STAGE, *arguments]).exit_code == 2


def test_the_loop_skips_a_step_it_cannot_read_and_stops_on_ctrl_c(
    stage: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until Ctrl-C: a moment without the stage is one skipped step, not the end of the controller."""
    original, reads = AwsStage.read, []

    def read(self: AwsStage) -> Any:
        reads.append(1)
        if len(reads) == 1:
            raise StageUnavailable("the writer is being redeployed")
        return original(self)

    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(AwsStage, "read", read)
    monkeypatch.setattr("nicelist.tuning.command.time.sleep", sleep)
    result = CliRunner().invoke(main, ["tune", *STAGE, "--auto", "--max", "4", "--interval", "7", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [line["action"] for line in lines] == ["skipped", "hold"]
    assert "redeployed" in lines[0]["error"] and sleeps == [7.0, 7.0]
