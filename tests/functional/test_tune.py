"""``nicelist tune`` on a deployed stage faked with moto (tests/support/deployed.py): the safe order of
the calls, refusals, read-back, provisioned pollers, --persist, --plan and the drain estimate.

moto stores reserved concurrency, ScalingConfig and ProvisionedPollerConfig without running anything,
so every call's effect is read back from moto itself; the order of the calls is recorded with a botocore
``before-parameter-build`` hook on every client the command makes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from nicelist.cli import main
from nicelist.mapping import configure_mapping
from nicelist.options import AwsTarget
from nicelist.provision import Clients
from nicelist.tuning.aws import mapping_arguments
from tests.support.deployed import REGION, STAGE, deploy_stage, writer_mapping

REPO_SETTINGS = Path(__file__).parents[2] / "zappa_settings.json"
CHANGES = {"PutParameter", "PutFunctionConcurrency", "UpdateEventSourceMapping"}


@pytest.fixture
def stage() -> Iterator[Clients]:
    with mock_aws():
        yield deploy_stage()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every changing call the command makes, and every wait, in order."""
    seen: list[str] = []
    original = AwsTarget.client

    def client(self: AwsTarget, service: str) -> Any:
        made = original(self, service)

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            if model.name in CHANGES:
                seen.append(f"{model.name} {params.get('Name', '')}".strip())

        made.meta.events.register("before-parameter-build", record)
        return made

    monkeypatch.setattr(AwsTarget, "client", client)
    monkeypatch.setattr("nicelist.tuning.command.time.sleep", lambda seconds: seen.append(f"wait {seconds:g}"))
    return seen


def tune(*arguments: str) -> Result:
    return CliRunner().invoke(main, ["tune", *STAGE, *arguments])


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _reserved() -> int:
    return int(
        boto3.client("lambda", region_name=REGION).get_function_concurrency(FunctionName="nicelist-dev-writer")[
            "ReservedConcurrentExecutions"
        ]
    )


def _parameter(name: str) -> str:
    return str(boto3.client("ssm", region_name=REGION).get_parameter(Name=name)["Parameter"]["Value"])


def test_raising_concurrency_follows_the_safe_order(stage: Clients, calls: list[str]) -> None:
    result = _json(tune("--concurrency", "4", "--write-rate", "90", "--json"))
    assert calls == [
        "PutParameter /nicelist/dev/write-rate",  # W down first
        "PutParameter /nicelist/dev/writer-concurrency",  # C up before any more executions may run
        "wait 65",  # the writer's 60 s timeout + 5 s parameter cache: every running batch has the new C
        "PutFunctionConcurrency",  # reserved up before the mapping's maximum
        "UpdateEventSourceMapping",
    ]
    assert (result["before"]["reserved"], result["after"]["reserved"]) == (2, 4)
    assert result["after"] | {"write_rate": 90.0} == result["after"]
    assert (_reserved(), writer_mapping()["ScalingConfig"], _parameter("/nicelist/dev/writer-concurrency")) == (
        4,
        {"MaximumConcurrency": 4},
        "4",
    )


def test_lowering_is_the_reverse_and_needs_no_wait(stage: Clients, calls: list[str]) -> None:
    tune("--concurrency", "6", "--write-rate", "80", "--settle-seconds", "0")
    calls.clear()
    result = _json(tune("--concurrency", "3", "--write-rate", "97", "--json"))
    assert calls == [
        "UpdateEventSourceMapping",
        "PutFunctionConcurrency",
        "PutParameter /nicelist/dev/writer-concurrency",
        "PutParameter /nicelist/dev/write-rate",  # W up last
    ]
    assert [step["action"] for step in result["steps"]] == ["mapping", "reserved", "writer-concurrency", "write-rate"]


@pytest.mark.parametrize(
    ("arguments", "check"),
    [
        (["--concurrency", "3", "--reserved-concurrency", "2"], "maximum-above-reserved"),
        (["--concurrency", "1"], "maximum-out-of-range"),
        (["--write-rate", "150"], "write-rate-above-capacity"),
        (["--batch-size", "50", "--batching-window", "0"], "batching-window-zero"),
        (["--batch-size", "50", "--batching-window", "2"], "visibility-short"),
        (["--pollers", "2:3", "--reserved-concurrency", "20"], "pollers-above-reserved"),
    ],
)
def test_tune_refuses_what_the_doctor_would_flag(
    stage: Clients, calls: list[str], arguments: list[str], check: str
) -> None:
    result = tune(*arguments, "--json")
    assert result.exit_code == 1, result.output
    assert [finding["check"] for finding in json.loads(result.stdout)["refused"]] == [check]
    assert calls == []  # nothing was changed


def test_force_allows_a_rate_above_capacity(stage: Clients, calls: list[str]) -> None:
    assert tune("--write-rate", "150", "--force").exit_code == 0
    assert _parameter("/nicelist/dev/write-rate") == "150"


def test_usage_errors_exit_2(stage: Clients) -> None:
    assert tune("--pollers", "2:3", "--concurrency", "4").exit_code == 2
    assert tune("--pollers", "nonsense").exit_code == 1
    assert tune("--unreserved").exit_code == 2


def test_provisioned_pollers_instead_of_maximum_concurrency(stage: Clients, calls: list[str]) -> None:
    # moto keeps ProvisionedPollerConfig (and an emptied ScalingConfig), so the switch reads back from moto
    result = _json(tune("--pollers", "2:3", "--reserved-concurrency", "30", "--settle-seconds", "0", "--json"))
    mapping = writer_mapping()
    assert mapping["ProvisionedPollerConfig"] == {"MinimumPollers": 2, "MaximumPollers": 3}
    assert mapping.get("ScalingConfig") in (None, {})
    assert result["after"]["writer_concurrency"] == 30  # in poller mode only reserved concurrency bounds them
    assert _parameter("/nicelist/dev/writer-concurrency") == "30"
    assert tune("--concurrency", "4").exit_code == 2  # the other mode needs --pollers off
    back = _json(tune("--pollers", "off", "--concurrency", "4", "--json"))
    assert (back["after"]["pollers"], back["after"]["maximum"], back["after"]["writer_concurrency"]) == (None, 4, 4)
    assert writer_mapping()["ScalingConfig"] == {"MaximumConcurrency": 4}


def test_mapping_arguments_clear_the_other_mode_in_the_same_call() -> None:
    assert mapping_arguments({"maximum": None, "pollers": "2:5"}) == {
        "ScalingConfig": {},
        "ProvisionedPollerConfig": {"MinimumPollers": 2, "MaximumPollers": 5},
    }
    assert mapping_arguments({"maximum": 3, "pollers": None, "batching_window": 1.0}) == {
        "MaximumBatchingWindowInSeconds": 1,
        "ScalingConfig": {"MaximumConcurrency": 3},
        "ProvisionedPollerConfig": {},
    }


def test_persist_writes_the_concurrency_into_the_settings(stage: Clients, tmp_path: Path) -> None:
    settings = tmp_path / "zappa_settings.json"
    shutil.copy(REPO_SETTINGS, settings)
    unpersisted = tune("--concurrency", "3", "--settle-seconds", "0", "--settings", str(settings))
    assert "warning: zappa_settings.json dev_writer: live reserved concurrency is 3" in unpersisted.output
    result = _json(
        tune("--concurrency", "4", "--settle-seconds", "0", "--persist", "--settings", str(settings), "--json")
    )
    assert result["persisted"]["lambda_concurrency"] == [2, 4]
    written = json.loads(settings.read_text())["dev_writer"]
    assert (written["lambda_concurrency"], written["aws_environment_variables"]["NICELIST_CONCURRENCY"]) == (4, "4")
    doctor = CliRunner().invoke(main, ["doctor", *STAGE, "--settings", str(settings)])
    assert doctor.exit_code == 0, doctor.output


def test_a_plan_is_applied_through_tune(stage: Clients, tmp_path: Path) -> None:
    arguments = [
        "plan",
        "--backlog",
        "100000",
        "--deadline",
        "1h",
        "--table-wcu",
        "100",
        "--updates-per-message",
        "500",
    ]
    plan = CliRunner().invoke(main, [*arguments, "--json"])
    path = tmp_path / "plan.json"
    path.write_text(plan.stdout)
    result = _json(tune("--plan", str(path), "--json"))
    assert result["after"]["write_rate"] == 97.0
    # the drain estimate uses the plan's own 500 updates/message, not an assumed 1
    assert result["drain"]["mix"]["source"] == "plan"
    assert result["drain"]["mix"]["updates_per_message"] == 500
    assert tune("--plan", str(path), "--concurrency", "3").exit_code == 1


def test_dry_run_changes_nothing_and_the_drain_estimate_counts_the_backlog(calls: list[str]) -> None:
    with mock_aws():
        # messages first: moto hands a queue's messages to an existing mapping's function as they arrive
        clients = deploy_stage(configure=False)
        queue = clients.sqs.get_queue_url(QueueName="nicelist-dev-updates")["QueueUrl"]
        for _ in range(8):
            clients.sqs.send_message(QueueUrl=queue, MessageBody="{}")
        configure_mapping(boto3.client("lambda", region_name=REGION), clients.sqs, clients.ssm, "dev")
        calls.clear()
        result = _json(tune("--concurrency", "4", "--dry-run", "--updates-per-message", "1000", "--json"))
    assert calls == []
    assert result["applied"] is False
    assert [step["action"] for step in result["steps"]] == ["writer-concurrency", "wait", "reserved", "mapping"]
    assert result["drain"]["messages"] == 8
    assert result["drain"]["seconds"] == pytest.approx(8 * 1000 * 1.375 / 100)


def test_tune_without_options_shows_the_stage(stage: Clients) -> None:
    shown = _json(tune("--json"))
    assert shown["tuning"] == {
        "reserved": 2,
        "maximum": 2,
        "pollers": None,
        "writer_concurrency": 2,
        "write_rate": 100.0,
        "batch_size": 10,
        "batching_window": 0,
        "write_rate_auto": None,
    }
    assert shown["findings"] == []


def test_tune_on_an_undeployed_stage() -> None:
    with mock_aws():
        result = tune("--concurrency", "3")
    assert result.exit_code == 1
    assert "nicelist-dev-writer does not exist" in result.output
