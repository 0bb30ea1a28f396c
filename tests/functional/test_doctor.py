"""``nicelist doctor`` catches every trap of docs/design.md ("Known traps") on a deployed stage faked
with moto: each test springs one on a sound stage and the doctor must report it, with a fix.

moto never reports a subscription as PendingConfirmation: that answer is rewritten with a botocore
``after-call`` hook on the doctor's SNS client."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from nicelist import doctor
from nicelist.alarms import AlarmThresholds, alarm_specs
from nicelist.cli import main
from nicelist.provision import Clients
from tests.support.deployed import REGION, STAGE, deploy_stage

REPO_SETTINGS = Path(__file__).parents[2] / "zappa_settings.json"
WRITER = "nicelist-dev-writer"
ROLE = "nicelist-dev-writer-role"


@pytest.fixture
def stage() -> Iterator[Clients]:
    with mock_aws():
        yield deploy_stage()


def run(*arguments: str) -> Result:
    return CliRunner().invoke(main, ["doctor", *STAGE, *arguments])


def findings(*arguments: str) -> list[dict[str, Any]]:
    result = run("--json", *arguments)
    report = json.loads(result.stdout)
    assert result.exit_code == (1 if report["findings"] else 0), result.output
    assert all(finding["fix"] for finding in report["findings"]), "every finding says how to fix it"
    return list(report["findings"])


def checks(*arguments: str) -> list[str]:
    return [finding["check"] for finding in findings(*arguments)]


def _lambda() -> Any:
    return boto3.client("lambda", region_name=REGION)


def _queue(clients: Clients, name: str = "nicelist-dev-updates") -> str:
    return str(clients.sqs.get_queue_url(QueueName=name)["QueueUrl"])


def _mapping_id() -> str:
    return str(_lambda().list_event_source_mappings(FunctionName=WRITER)["EventSourceMappings"][0]["UUID"])


def _redrive(clients: Clients, receives: int) -> None:
    dlq = clients.sqs.get_queue_attributes(
        QueueUrl=_queue(clients, "nicelist-dev-updates-dlq"), AttributeNames=["QueueArn"]
    )
    redrive = {"deadLetterTargetArn": dlq["Attributes"]["QueueArn"], "maxReceiveCount": receives}
    clients.sqs.set_queue_attributes(QueueUrl=_queue(clients), Attributes={"RedrivePolicy": json.dumps(redrive)})


def test_a_sound_stage_is_clean(stage: Clients) -> None:
    result = run()
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output
    assert "settings: zappa_settings.json: dev_api, dev_writer checked" in result.output


def _no_batch_item_failures(clients: Clients) -> None:
    _lambda().update_event_source_mapping(UUID=_mapping_id(), FunctionResponseTypes=[])


def _maximum_above_reserved(clients: Clients) -> None:
    _lambda().update_event_source_mapping(UUID=_mapping_id(), ScalingConfig={"MaximumConcurrency": 3})


def _no_reserved_concurrency(clients: Clients) -> None:
    _lambda().delete_function_concurrency(FunctionName=WRITER)


def _redrive_elsewhere(clients: Clients) -> None:
    other = clients.sqs.create_queue(QueueName="somebody-elses-dlq")["QueueUrl"]
    arn = clients.sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": arn, "maxReceiveCount": 5}
    clients.sqs.set_queue_attributes(QueueUrl=_queue(clients), Attributes={"RedrivePolicy": json.dumps(redrive)})


def _few_receives(clients: Clients) -> None:
    _redrive(clients, 3)


def _writer_assumes_other_receives(clients: Clients) -> None:
    _redrive(clients, 7)


def _short_visibility(clients: Clients) -> None:
    _lambda().update_event_source_mapping(UUID=_mapping_id(), BatchSize=50, MaximumBatchingWindowInSeconds=2)


def _zero_window_with_a_large_batch(clients: Clients) -> None:
    _lambda().update_event_source_mapping(UUID=_mapping_id(), BatchSize=50, MaximumBatchingWindowInSeconds=0)


def _short_dlq_retention(clients: Clients) -> None:
    clients.sqs.set_queue_attributes(
        QueueUrl=_queue(clients, "nicelist-dev-updates-dlq"), Attributes={"MessageRetentionPeriod": "60"}
    )


def _missing_alarm(clients: Clients) -> None:
    clients.cloudwatch.delete_alarms(AlarmNames=["nicelist-dev-writer-throttles"])


def _alarm_without_action(clients: Clients) -> None:
    spec = alarm_specs(doctor.StageNames("dev"), "", AlarmThresholds())[0]
    clients.cloudwatch.put_metric_alarm(**{**spec, "AlarmActions": [], "OKActions": []})


def _writer_logs_events(clients: Clients) -> None:
    variables = {"NICELIST_CONCURRENCY": "2", "LOG_LEVEL": "DEBUG", "POWERTOOLS_LOG_LEVEL": "INFO"}
    _lambda().update_function_configuration(FunctionName=WRITER, Environment={"Variables": variables})


def _wrong_divisor(clients: Clients) -> None:
    clients.ssm.put_parameter(Name="/nicelist/dev/writer-concurrency", Value="1", Type="String", Overwrite=True)


def _rate_above_capacity(clients: Clients) -> None:
    clients.ssm.put_parameter(Name="/nicelist/dev/write-rate", Value="150", Type="String", Overwrite=True)


def _pollers_beyond_reserved(clients: Clients) -> None:
    pollers = {"MinimumPollers": 2, "MaximumPollers": 3}
    _lambda().update_event_source_mapping(UUID=_mapping_id(), ScalingConfig={}, ProvisionedPollerConfig=pollers)


def _second_mapping(clients: Clients) -> None:
    arn = clients.sqs.get_queue_attributes(QueueUrl=_queue(clients), AttributeNames=["QueueArn"])["Attributes"]
    _lambda().create_event_source_mapping(FunctionName=WRITER, EventSourceArn=arn["QueueArn"], BatchSize=10)


def _broad_inline_policy(clients: Clients) -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}
    boto3.client("iam", region_name=REGION).put_role_policy(
        RoleName=ROLE, PolicyName="quick-fix", PolicyDocument=json.dumps(document)
    )


def _broad_attached_policy(clients: Clients) -> None:
    iam = boto3.client("iam", region_name=REGION)
    statement = {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "arn:aws:sqs:*:*:*"}
    arn = iam.create_policy(
        PolicyName="any-queue", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=arn["Policy"]["Arn"])


def _tuned_but_not_persisted(clients: Clients) -> None:
    result = CliRunner().invoke(main, ["tune", *STAGE, "--concurrency", "3", "--settle-seconds", "0"])
    assert result.exit_code == 0, result.output


TRAPS: dict[str, tuple[Callable[[Clients], None], list[str]]] = {
    "mapping without ReportBatchItemFailures": (_no_batch_item_failures, ["report-batch-item-failures"]),
    "maximum above reserved": (_maximum_above_reserved, ["maximum-above-reserved", "drift-nicelist-concurrency"]),
    "no reserved concurrency": (_no_reserved_concurrency, ["reserved-missing"]),
    "redrive to another queue": (_redrive_elsewhere, ["redrive-target"]),
    "maxReceiveCount below 5": (_few_receives, ["max-receive-count", "writer-receive-count"]),
    "maxReceiveCount not the writer's": (_writer_assumes_other_receives, ["writer-receive-count"]),
    "visibility < 6 x timeout + window": (_short_visibility, ["visibility-short"]),
    "window 0 with a batch above 10": (_zero_window_with_a_large_batch, ["batching-window-zero"]),
    "DLQ retention": (_short_dlq_retention, ["dlq-retention"]),
    "missing alarm": (_missing_alarm, ["alarm-missing"]),
    "alarm without the topic's action": (_alarm_without_action, ["alarm-action"]),
    "log level not INFO": (_writer_logs_events, ["log-level"]),
    "writers split W by fewer": (_wrong_divisor, ["writer-concurrency"]),
    "write rate above the table's WCU": (_rate_above_capacity, ["write-rate-above-capacity"]),
    "pollers beyond reserved": (_pollers_beyond_reserved, ["pollers-above-reserved"]),
    "two mappings": (_second_mapping, ["report-batch-item-failures", "mapping-several"]),
    "broad inline policy": (_broad_inline_policy, ["iam-broad"]),
    "broad attached policy": (_broad_attached_policy, ["iam-broad"]),
    "drift after a tune": (_tuned_but_not_persisted, ["drift-lambda-concurrency", "drift-nicelist-concurrency"]),
}  # fmt: skip


@pytest.mark.parametrize("trap", sorted(TRAPS))
def test_the_doctor_catches(stage: Clients, trap: str) -> None:
    spring, expected = TRAPS[trap]
    spring(stage)
    assert sorted(checks()) == sorted(expected)


def test_the_least_privilege_policies_are_not_broad(stage: Clients) -> None:
    # deploy policy --apply writes the templates (their one "*" resource is PutMetricData's, with a namespace condition)
    boto3.client("iam", region_name=REGION).delete_role(RoleName=ROLE)
    boto3.client("iam", region_name=REGION).delete_role(RoleName="nicelist-dev-api-role")
    assert CliRunner().invoke(main, ["deploy", "policy", *STAGE, "--apply"]).exit_code == 0
    assert checks() == []


def test_an_unconfirmed_subscription(stage: Clients, monkeypatch: pytest.MonkeyPatch) -> None:
    original = doctor._probe_clients

    def pending(target: Any) -> Callable[[str], Any]:
        make = original(target)

        def client(service: str) -> Any:
            made = make(service)

            def rewrite(parsed: dict[str, Any], **_: Any) -> None:
                for subscription in parsed.get("Subscriptions", []):
                    subscription["SubscriptionArn"] = "PendingConfirmation"

            made.meta.events.register("after-call.sns.ListSubscriptionsByTopic", rewrite)
            return made

        return client

    monkeypatch.setattr(doctor, "_probe_clients", pending)
    (finding,) = findings()
    assert finding["check"] == "subscription-pending"
    assert "ops@example.org is not confirmed" in finding["problem"]


def test_nobody_subscribed() -> None:
    with mock_aws():
        deploy_stage(email=None)
        assert checks() == ["subscription-none"]


def test_the_settings_file_is_checked(stage: Clients, tmp_path: Path) -> None:
    settings = tmp_path / "zappa_settings.json"
    document = json.loads(REPO_SETTINGS.read_text())
    document["dev_writer"].update(keep_warm=True, log_level="DEBUG")
    del document["dev_api"]["s3_bucket"]
    settings.write_text(json.dumps(document))
    found = findings("--settings", str(settings))
    assert [(f["where"], f["check"]) for f in found] == [
        ("zappa_settings.json dev_api", "s3-bucket"),
        ("zappa_settings.json dev_writer", "log-level"),
        ("zappa_settings.json dev_writer", "keep-warm"),
    ]
    assert checks("--settings", str(tmp_path / "missing.json")) == ["settings-unreadable"]


def test_without_a_reachable_aws_the_settings_are_checked_alone(tmp_path: Path) -> None:
    settings = tmp_path / "zappa_settings.json"
    shutil.copy(REPO_SETTINGS, settings)
    clean = run("--endpoint-url", "http://127.0.0.1:9", "--settings", str(settings))
    assert clean.exit_code == 0, clean.output
    assert "live:     NOT CHECKED, AWS unreachable" in clean.output
    assert "only the settings file was checked" in clean.output
    document = json.loads(settings.read_text())
    document["dev_writer"]["keep_warm"] = True
    settings.write_text(json.dumps(document))
    dirty = run("--endpoint-url", "http://127.0.0.1:9", "--settings", str(settings), "--json")
    assert dirty.exit_code == 1
    assert [f["check"] for f in json.loads(dirty.stdout)["findings"]] == ["keep-warm"]


def test_without_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = run()
    assert result.exit_code == 0, result.output
    assert "NOT CHECKED, AWS unreachable: Unable to locate credentials" in result.output


def test_deploy_check_is_an_alias(stage: Clients) -> None:
    _rate_above_capacity(stage)
    alias = CliRunner().invoke(main, ["deploy", "check", *STAGE, "--json"])
    assert alias.exit_code == 1
    assert json.loads(alias.stdout) == json.loads(run("--json").stdout)
