"""nicelist deploy configure/check/policy against moto's Lambda (mapping, concurrency, configuration).

moto stores ``FunctionResponseTypes`` and ``ScalingConfig`` on event source mappings and
implements reserved concurrency, so those paths run on moto. moto never creates a mapping in
the "Disabled" state from a stopped poller; that state is produced with botocore's Stubber.
``deploy check`` is an alias of ``nicelist doctor`` (tests/functional/test_doctor.py has the rest)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner
from moto import mock_aws

from nicelist.cli import main
from nicelist.deploy_check import mapping_findings
from nicelist.provision import Clients, ProvisionOptions, provision_stage
from tests.support.deployed import REGION, STAGE, deploy_function, writer_mapping

UUID = "0f6d1c6e-93c1-4a39-9d1b-3a8e6f0c2b11"
EMAIL = ProvisionOptions(alarm_email="ops@example.org")


@pytest.fixture
def deployed() -> Iterator[Clients]:
    with mock_aws():
        clients = Clients.create(region=REGION)
        provision_stage("dev", clients, EMAIL)
        deploy_function("nicelist-dev-writer", reserved=2)
        deploy_function("nicelist-dev-api", reserved=None)
        yield clients


def _check() -> tuple[int, list[dict[str, Any]]]:
    out = CliRunner().invoke(main, ["deploy", "check", *STAGE, "--json"])
    return out.exit_code, json.loads(out.output)["findings"]


def _checks(findings: list[dict[str, Any]]) -> list[str]:
    return [f["check"] for f in findings]


def _problems(findings: list[dict[str, Any]]) -> str:
    return "\n".join(f"{f['where']}: {f['problem']}" for f in findings)


def test_configure_creates_the_mapping_zappa_did_not(deployed: Clients) -> None:
    out = CliRunner().invoke(main, ["deploy", "configure", *STAGE])
    assert out.exit_code == 0, out.output
    assert "created mapping" in out.output
    mapping = writer_mapping()
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    # no batching window: provisioning's visibility (6 x timeout) leaves no room for one
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (10, 0)
    assert _check() == (0, [])


def test_configure_fixes_a_mapping_as_zappa_creates_it(deployed: Clients) -> None:
    # GIVEN the mapping zappa's SqsEventSource.add() creates: no response types, no scaling config
    queue_arn = provision_stage("dev", deployed, EMAIL).queue_arn
    boto3.client("lambda", region_name=REGION).create_event_source_mapping(
        FunctionName="nicelist-dev-writer", EventSourceArn=queue_arn, BatchSize=10, Enabled=True
    )
    code, findings = _check()
    assert code == 1
    assert _checks(findings) == ["report-batch-item-failures", "maximum-missing"]
    # WHEN configuring THEN the same mapping is updated, not duplicated
    out = CliRunner().invoke(main, ["deploy", "configure", *STAGE, "--batch-size", "10", "--batching-window", "0"])
    assert "updated mapping" in out.output, out.output
    assert writer_mapping()["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert _check() == (0, [])


def test_check_lists_every_problem(deployed: Clients) -> None:
    # GIVEN a stage where each trap was sprung
    lam = boto3.client("lambda", region_name=REGION)
    CliRunner().invoke(main, ["deploy", "configure", *STAGE])
    lam.delete_function_concurrency(FunctionName="nicelist-dev-writer")
    lam.update_function_configuration(FunctionName="nicelist-dev-writer", Timeout=120)
    lam.update_function_configuration(
        FunctionName="nicelist-dev-api", Environment={"Variables": {"LOG_LEVEL": "DEBUG"}}
    )
    queue = deployed.sqs.get_queue_url(QueueName="nicelist-dev-updates")["QueueUrl"]
    dlq_arn = provision_stage("dev", deployed, EMAIL).dlq_arn
    deployed.sqs.set_queue_attributes(
        QueueUrl=queue,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
            "MessageRetentionPeriod": str(14 * 86400),
        },
    )
    deployed.cloudwatch.delete_alarms(AlarmNames=["nicelist-dev-queue-age"])
    # WHEN checking THEN every one is reported, each with its fix
    code, findings = _check()
    assert code == 1
    text = _problems(findings)
    for expected in (
        "function nicelist-dev-writer: no reserved concurrency",
        "function nicelist-dev-api: LOG_LEVEL is 'DEBUG'",
        "function nicelist-dev-api: POWERTOOLS_LOG_LEVEL is None",
        "maxReceiveCount is 2",
        "visibility timeout 360 s < 720 s (6 x the writer's 120 s timeout + the 0 s batching window)",
        "the writer assumes maxReceiveCount 5 (NICELIST_MAX_RECEIVE_COUNT) but the queue's is 2",
        "queue nicelist-dev-updates-dlq: its retention is not longer than the queue's",
        "alarm nicelist-dev-queue-age: missing",
    ):
        assert expected in text, (expected, text)
    assert len(findings) == 8, text
    assert all(f["fix"] for f in findings)


def test_check_compares_the_writers_receive_count_with_the_queues(deployed: Clients) -> None:
    # GIVEN a sound stage whose queue was later given maxReceiveCount 8, while the writer still assumes 5
    CliRunner().invoke(main, ["deploy", "configure", *STAGE])
    queue = deployed.sqs.get_queue_url(QueueName="nicelist-dev-updates")["QueueUrl"]
    dlq_arn = provision_stage("dev", deployed, EMAIL).dlq_arn
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 8})
    deployed.sqs.set_queue_attributes(QueueUrl=queue, Attributes={"RedrivePolicy": redrive})
    # WHEN checking THEN exactly that mismatch is reported
    code, findings = _check()
    assert code == 1
    assert [f["problem"] for f in findings] == [
        "the writer assumes maxReceiveCount 5 (NICELIST_MAX_RECEIVE_COUNT) but the queue's is 8: "
        "its last-delivery rule would fire at the wrong receive"
    ]


def test_check_on_an_undeployed_stage() -> None:
    with mock_aws():
        code, findings = _check()
    assert code == 1
    text = _problems(findings)
    assert "function nicelist-dev-writer: missing" in text
    assert "queue nicelist-dev-updates: missing" in text
    assert "topic nicelist-dev-alarms: missing" in text
    assert _checks(findings).count("iam-role-missing") == 2


def test_configure_refuses_without_reserved_concurrency(deployed: Clients) -> None:
    boto3.client("lambda", region_name=REGION).delete_function_concurrency(FunctionName="nicelist-dev-writer")
    out = CliRunner().invoke(main, ["deploy", "configure", *STAGE])
    assert out.exit_code == 1
    assert "no reserved concurrency" in out.output


@pytest.mark.parametrize(("requested", "message"), [("3", "must be 2..2"), ("2", None)])
def test_configure_bounds_maximum_concurrency(deployed: Clients, requested: str, message: str | None) -> None:
    out = CliRunner().invoke(main, ["deploy", "configure", *STAGE, "--max-concurrency", requested])
    if message is None:
        assert out.exit_code == 0, out.output
    else:
        assert out.exit_code == 1 and message in out.output


def test_configure_tells_the_writers_how_many_share_the_budget() -> None:
    # GIVEN writers deployed with NICELIST_CONCURRENCY=3 and a reserved concurrency of 4
    with mock_aws():
        provision_stage("dev", Clients.create(region=REGION))
        deploy_function("nicelist-dev-writer", reserved=4, concurrency="3")
        # WHEN the operator raises the mapping's maximum concurrency to 4
        out = CliRunner().invoke(main, ["deploy", "configure", *STAGE, "--max-concurrency", "4"])
        shared_by = boto3.client("ssm", region_name=REGION).get_parameter(Name="/nicelist/dev/writer-concurrency")
    # THEN the writers are told to split the budget four ways (no redeploy needed)
    assert out.exit_code == 0, out.output
    assert shared_by["Parameter"]["Value"] == "4"


def test_check_reports_writers_splitting_the_budget_by_the_wrong_number(deployed: Clients) -> None:
    out = CliRunner().invoke(main, ["deploy", "configure", *STAGE])
    assert out.exit_code == 0, out.output
    deployed.ssm.put_parameter(Name="/nicelist/dev/writer-concurrency", Value="5", Type="String", Overwrite=True)
    out = CliRunner().invoke(main, ["deploy", "check", *STAGE])
    assert out.exit_code == 1
    assert "the writers split W by 5 but at most 2 executions run" in out.output
    assert "FIX: nicelist tune --stage dev --concurrency 2" in out.output


def test_disabled_mapping_is_a_problem() -> None:
    # moto's mappings are always "Enabled" in listings; the disabled state comes from a Stubber
    lam = boto3.client("lambda", region_name=REGION)
    arn = "arn:aws:sqs:us-east-1:123456789012:nicelist-dev-updates"
    mapping = {
        "UUID": UUID,
        "EventSourceArn": arn,
        "State": "Disabled",
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 5},
    }
    with Stubber(lam) as stubber:
        stubber.add_response("list_event_source_mappings", {"EventSourceMappings": [mapping]})
        findings = mapping_findings(lam, "dev", arn)
    assert [(f.where, f.problem) for f in findings] == [(f"mapping {UUID}", "is Disabled: nothing drains")]


@pytest.mark.parametrize(
    ("region", "partition", "suffix"), [(REGION, "aws", "amazonaws.com"), ("cn-north-1", "aws-cn", "amazonaws.com.cn")]
)
def test_policy_fills_partition_account_and_stage(region: str, partition: str, suffix: str) -> None:
    with mock_aws():
        out = CliRunner().invoke(main, ["deploy", "policy", "--stage", "prod", "--region", region])
    assert out.exit_code == 0, out.output
    policies = json.loads(out.output)
    assert policies["writer"]["role_name"] == "nicelist-prod-writer-role"
    text = out.output
    assert "<" not in text and "${" not in text
    writer = {s["Sid"]: s for s in policies["writer"]["policy"]["Statement"]}
    assert writer["WriteTheTable"]["Resource"] == f"arn:{partition}:dynamodb:{region}:123456789012:table/nicelist-prod"
    assert writer["WriteTheTable"]["Action"] == ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"]
    api = {s["Sid"]: s for s in policies["api"]["policy"]["Statement"]}
    # the health check reads the queue's attributes; the writer defers remainders to its own queue
    assert api["Enqueue"]["Action"] == ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
    drain = writer["DrainTheQueueAndDeferRemainders"]
    assert {"sqs:SendMessage", "sqs:ChangeMessageVisibility"} <= set(drain["Action"])
    assert drain["Resource"].endswith(":nicelist-prod-updates")
    assert (
        api["DecryptApiKeysThroughSsmOnly"]["Condition"]["StringEquals"]["kms:ViaService"] == f"ssm.{region}.{suffix}"
    )
    for statement in [*writer.values(), *api.values()]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Sid"] == "Metrics":  # PutMetricData has no resource; the namespace condition scopes it
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "nicelist"}}
            continue
        assert all(r.startswith(f"arn:{partition}:") and ":123456789012:" in r for r in resources), statement


def test_deploy_help() -> None:
    for command in (["deploy"], ["deploy", "configure"], ["deploy", "check"], ["deploy", "policy"]):
        assert CliRunner().invoke(main, [*command, "--help"]).exit_code == 0


def test_policy_apply_creates_the_roles_zappa_settings_names() -> None:
    with mock_aws():
        runner = CliRunner()
        first = runner.invoke(main, ["deploy", "policy", *STAGE, "--apply"])
        again = runner.invoke(main, ["deploy", "policy", *STAGE, "--apply"])
        iam = boto3.client("iam", region_name=REGION)
        policy = iam.get_role_policy(RoleName="nicelist-dev-writer-role", PolicyName="nicelist-least-privilege")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["applied"] == {
        "nicelist-dev-writer-role": "created",
        "nicelist-dev-api-role": "created",
    }
    assert json.loads(again.output)["applied"]["nicelist-dev-api-role"] == "updated"
    statements = {s["Sid"] for s in policy["PolicyDocument"]["Statement"]}
    assert "WriteTheTable" in statements
    settings = json.loads((Path(__file__).parents[2] / "zappa_settings.json").read_text())
    assert settings["dev_writer"]["role_name"] == "nicelist-dev-writer-role"
    assert settings["dev_api"]["role_name"] == "nicelist-dev-api-role"
