"""``nicelist tune`` and ``nicelist doctor`` on ``--stage local``: the same command, rules and order of
changes as on a deployed stage, through the writer runtime's control endpoint and the SSM parameters
of the embedded AWS (moto server in-process, a ``WriterRuntime`` wired the way the stack wires it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from contract.names import StageNames
from nicelist.cli import main
from nicelist.local.config import Tuning
from nicelist.local.notifications import NotificationInbox
from nicelist.local.runtime import WriterRuntime
from nicelist.provision import Clients, ProvisionOptions, provision_stage
from tests.handlers.stack import config

NAMES = StageNames("local")


@pytest.fixture
def runtime(endpoint: str, tmp_path: Path) -> Iterator[WriterRuntime]:
    clients = Clients.create(boto3.Session(region_name="us-east-1"), endpoint_url=endpoint)
    provisioned = provision_stage("local", clients, ProvisionOptions(write_rate=97, writer_timeout=30))
    # what LocalStack does for its local CloudWatch: the alarm topic reaches the stack's inbox queue
    NotificationInbox(clients.sqs, clients.sns, tmp_path / "notifications.log").subscribe(
        "local", provisioned.topic_arn
    )
    ssm = clients.ssm

    def share(tuning: Tuning) -> None:  # what LocalStack._share_concurrency does on every tune
        ssm.put_parameter(
            Name=NAMES.writer_concurrency_parameter,
            Value=str(tuning.effective_concurrency),
            Type="String",
            Overwrite=True,
        )

    settings = config(endpoint, provisioned.queue_url, tmp_path / "r.jsonl", reserved_concurrency=2, control_port=0)
    with WriterRuntime(settings, on_tune=share) as running:
        share(running.tuning)
        yield running
    for name in (NAMES.writer_concurrency_parameter, NAMES.write_rate_parameter):
        ssm.delete_parameter(Name=name)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    seen: list[float] = []
    monkeypatch.setattr("nicelist.tuning.command.time.sleep", seen.append)
    return seen


def _local(endpoint: str, runtime: WriterRuntime) -> list[str]:
    assert runtime.control_url is not None
    return ["--stage", "local", "--endpoint-url", endpoint, "--control-url", runtime.control_url]


def tune(endpoint: str, runtime: WriterRuntime, *arguments: str) -> Result:
    return CliRunner().invoke(main, ["tune", *_local(endpoint, runtime), *arguments])


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _shared_by(endpoint: str) -> str:
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1")
    return str(ssm.get_parameter(Name=NAMES.writer_concurrency_parameter)["Parameter"]["Value"])


def test_raising_and_lowering_the_local_runtime(endpoint: str, runtime: WriterRuntime, waits: list[float]) -> None:
    raised = _json(tune(endpoint, runtime, "--concurrency", "3", "--write-rate", "50", "--json"))
    # C first, then the 30 s local writer timeout + 5 s cache, then reserved and maximum in one change
    assert [step["action"] for step in raised["steps"]] == ["write-rate", "writer-concurrency", "wait", "runtime"]
    assert waits == [35.0]
    assert (runtime.tuning.reserved_concurrency, runtime.tuning.maximum_concurrency) == (3, 3)
    assert _shared_by(endpoint) == "3"
    lowered = _json(tune(endpoint, runtime, "--concurrency", "2", "--json"))
    assert [step["action"] for step in lowered["steps"]] == ["runtime", "writer-concurrency"]
    assert (runtime.tuning.maximum_concurrency, _shared_by(endpoint)) == (2, "2")
    assert lowered["before"]["maximum"] == 3 and lowered["after"]["maximum"] == 2


def test_todays_local_options_still_work(endpoint: str, runtime: WriterRuntime, waits: list[float]) -> None:
    result = tune(endpoint, runtime, "--max-concurrency", "3", "--reserved-concurrency", "3", "--batch-size", "5")
    assert result.exit_code == 0, result.output
    assert runtime.tuning == Tuning(3, 3, 5, 0.0)
    # a window, even half a second, needs visibility >= 6 x timeout + it: provisioning gave exactly 6 x
    assert tune(endpoint, runtime, "--batching-window", "0.5").exit_code == 1
    assert tune(endpoint, runtime, "--unreserved").exit_code == 0
    assert runtime.tuning.reserved_concurrency is None


@pytest.mark.parametrize(
    ("arguments", "check"),
    [
        (["--concurrency", "1"], "maximum-out-of-range"),
        (["--concurrency", "3", "--reserved-concurrency", "2"], "maximum-above-reserved"),
        (["--write-rate", "150"], "write-rate-above-capacity"),
        (["--batch-size", "50"], "batching-window-zero"),
    ],
)
def test_the_same_rules_refuse_locally(endpoint: str, runtime: WriterRuntime, arguments: list[str], check: str) -> None:
    result = tune(endpoint, runtime, *arguments, "--json")
    assert result.exit_code == 1, result.output
    assert [f["check"] for f in json.loads(result.stdout)["refused"]] == [check]
    assert runtime.tuning == Tuning(2, 2, 10, 0.0)


def test_what_only_aws_has_is_a_usage_error(endpoint: str, runtime: WriterRuntime) -> None:
    assert tune(endpoint, runtime, "--pollers", "2:3").exit_code == 2
    assert tune(endpoint, runtime, "--concurrency", "3", "--persist").exit_code == 1


def test_the_doctor_on_the_local_stage(endpoint: str, runtime: WriterRuntime) -> None:
    doctor = ["doctor", *_local(endpoint, runtime), "--json"]
    clean = CliRunner().invoke(main, doctor)
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.stdout)["settings"].startswith("not checked: stage local")
    runtime.tune(reserved_concurrency=1)  # behind tune's back: the runtime allows it, the doctor does not
    dirty = CliRunner().invoke(main, doctor)
    assert dirty.exit_code == 1
    assert [f["check"] for f in json.loads(dirty.stdout)["findings"]] == ["maximum-above-reserved"]


def test_the_doctor_reports_a_firing_local_alarm(endpoint: str, runtime: WriterRuntime) -> None:
    # GIVEN the local CloudWatch put the queue-age alarm in ALARM
    cloudwatch = boto3.client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1")
    name = NAMES.alarm("queue-age")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: 3 out of 5")
    try:
        # WHEN the doctor checks the local stage THEN it names the alarm, its reason and its description
        result = CliRunner().invoke(main, ["doctor", *_local(endpoint, runtime), "--json"])
    finally:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test over")
    assert result.exit_code == 1
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["check"], finding["where"]) == ("alarm-firing", f"alarm {name}")
    assert "Threshold Crossed: 3 out of 5" in finding["problem"]
    assert "raise the write rate" in finding["fix"]


def test_without_a_runtime(endpoint: str, runtime: WriterRuntime) -> None:
    arguments = ["--stage", "local", "--endpoint-url", endpoint, "--control-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(main, ["tune", *arguments])
    assert result.exit_code == 1
    assert "cannot reach the writer runtime" in result.output
    doctor = CliRunner().invoke(main, ["doctor", *arguments, "--json"])
    assert [f["check"] for f in json.loads(doctor.stdout)["findings"]] == ["runtime-unreachable"]
