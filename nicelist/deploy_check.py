"""The live half of ``nicelist doctor`` (and ``nicelist deploy check``): prove a deployed stage avoids
every trap in docs/design.md ("Known traps"), each finding with its fix.

Functions, queues, the table, alarms and their topic, and the roles are checked here; the mapping,
concurrency, budget and batching through ``nicelist.tuning.rules`` on what ``AwsStage`` reads, the
rules ``nicelist tune`` also refuses to break. Every problem is returned, not the first."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from contract.delivery import DEFAULT_MAX_RECEIVE_COUNT, MIN_MAX_RECEIVE_COUNT
from contract.names import StageNames
from nicelist.alarms import AlarmThresholds, alarm_specs
from nicelist.console import error_code
from nicelist.findings import Finding
from nicelist.mapping import find_mappings
from nicelist.policies import PolicyTarget, render_policies
from nicelist.tuning.aws import queue_attributes
from nicelist.tuning.model import LiveStage
from nicelist.tuning.rules import tuning_findings

_LOG_LEVEL_VARIABLES = ("LOG_LEVEL", "POWERTOOLS_LOG_LEVEL")
PENDING = "PendingConfirmation"  # SNS's SubscriptionArn until the endpoint confirms


@dataclass(frozen=True, slots=True)
class LiveClients:
    """The clients of one account and region the live checks read with."""

    lambda_: Any
    sqs: Any
    cloudwatch: Any
    sns: Any
    dynamodb: Any
    iam: Any
    region: str


def function_findings(lambda_client: Any, stage: str, role: str) -> tuple[dict[str, Any] | None, list[Finding]]:
    name = getattr(StageNames(stage), f"{role}_function")
    try:
        configuration: dict[str, Any] = lambda_client.get_function_configuration(FunctionName=name)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        return None, [Finding("function-missing", f"function {name}", "missing", f"zappa deploy {stage}_{role}")]
    variables = configuration.get("Environment", {}).get("Variables", {})
    findings = [
        Finding(
            "log-level",
            f"function {name}",
            f"{variable} is {variables.get(variable)!r}, not 'INFO': events (children's positions) would be logged",
            f'set "{variable}": "INFO" in aws_environment_variables, then zappa update {stage}_{role}',
        )
        for variable in _LOG_LEVEL_VARIABLES
        if variables.get(variable) != "INFO"
    ]
    return configuration, findings


def queue_findings(sqs: Any, stage: str, writer: dict[str, Any] | None) -> list[Finding]:
    """Both queues exist; the queue redrives to the DLQ after enough receives, the one the writer
    assumes; the DLQ keeps messages longer than the queue. (Visibility is a tuning rule: it depends
    on the batching window.)"""
    names, provision = StageNames(stage), f"nicelist provision --stage {stage}"
    queue, dlq = queue_attributes(sqs, names.queue), queue_attributes(sqs, names.dlq)
    missing = [
        Finding("queue-missing", f"queue {n}", "missing", provision)
        for n, a in ((names.queue, queue), (names.dlq, dlq))
        if not a
    ]
    if missing:
        return missing
    where, findings = f"queue {names.queue}", []
    redrive = json.loads(queue.get("RedrivePolicy", "{}"))
    if redrive.get("deadLetterTargetArn") != dlq["QueueArn"]:
        findings.append(Finding("redrive-target", where, "does not redrive to the stage's DLQ", provision))
    receives = int(redrive.get("maxReceiveCount", 0))
    if receives < MIN_MAX_RECEIVE_COUNT:
        findings.append(
            Finding(
                "max-receive-count",
                where,
                f"maxReceiveCount is {redrive.get('maxReceiveCount')}, must be >= {MIN_MAX_RECEIVE_COUNT}: valid "
                "updates reach the DLQ for throttling alone",
                provision,
            )
        )
    variables = (writer or {}).get("Environment", {}).get("Variables", {})
    assumed = variables.get("NICELIST_MAX_RECEIVE_COUNT", str(DEFAULT_MAX_RECEIVE_COUNT))
    if assumed != str(receives):
        findings.append(
            Finding(
                "writer-receive-count",
                where,
                f"the writer assumes maxReceiveCount {assumed} (NICELIST_MAX_RECEIVE_COUNT) but the queue's is "
                f"{receives}: its last-delivery rule would fire at the wrong receive",
                f"nicelist provision --stage {stage} --max-receive-count {assumed}, or set NICELIST_MAX_RECEIVE_COUNT "
                f"to {receives} and zappa update {stage}_writer",
            )
        )
    if int(dlq["MessageRetentionPeriod"]) <= int(queue["MessageRetentionPeriod"]):
        findings.append(
            Finding("dlq-retention", f"queue {names.dlq}", "its retention is not longer than the queue's", provision)
        )
    return findings


def mapping_findings(lambda_client: Any, stage: str, queue_arn: str) -> list[Finding]:
    """What the tuning rules do not cover: each mapping is enabled and reports batch item failures."""
    findings, configure = [], f"nicelist deploy configure --stage {stage}"
    for mapping in find_mappings(lambda_client, StageNames(stage).writer_function, queue_arn):
        where = f"mapping {mapping['UUID']}"
        if mapping.get("State") not in {"Enabled", "Enabling", "Updating"}:
            findings.append(Finding("mapping-state", where, f"is {mapping.get('State')}: nothing drains", configure))
        if "ReportBatchItemFailures" not in (mapping.get("FunctionResponseTypes") or []):
            problem = "lacks ReportBatchItemFailures: Lambda deletes whole batches, returned failures are lost"
            findings.append(Finding("report-batch-item-failures", where, problem, configure))
    return findings


def table_findings(dynamodb: Any, stage: str) -> list[Finding]:
    table = StageNames(stage).table
    try:
        dynamodb.describe_table(TableName=table)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        return [Finding("table-missing", f"table {table}", "missing", f"nicelist provision --stage {stage}")]
    return []


def _topic_arn(sns: Any, name: str) -> str | None:
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            if topic["TopicArn"].endswith(f":{name}"):
                return str(topic["TopicArn"])
    return None


def alarm_findings(cloudwatch: Any, sns: Any, stage: str) -> list[Finding]:
    """Every alarm exists and notifies the stage's topic, none is firing, and someone confirmed a
    subscription to the topic. One code path for AWS and the local stack, whose alarms the local
    CloudWatch evaluates (nicelist/local/alarm_eval.py) and whose inbox queue is subscribed."""
    names, provision = StageNames(stage), f"nicelist provision --stage {stage}"
    topic = _topic_arn(sns, names.alarm_topic)
    if topic is None:
        return [Finding("alarm-topic-missing", f"topic {names.alarm_topic}", "missing", provision)]
    expected = [spec["AlarmName"] for spec in alarm_specs(names, topic, AlarmThresholds())]
    found = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=expected)["MetricAlarms"]}
    findings = [
        Finding("alarm-missing", f"alarm {name}", "missing", provision) for name in expected if name not in found
    ]
    findings += [
        Finding("alarm-action", f"alarm {name}", f"does not notify {names.alarm_topic}", provision)
        for name, alarm in found.items()
        if topic not in (alarm.get("AlarmActions") or [])
    ]
    findings += [
        Finding("alarm-firing", f"alarm {name}", f"in ALARM: {alarm.get('StateReason', '')}",
                str(alarm.get("AlarmDescription") or f"see nicelist status --stage {stage}"))
        for name, alarm in found.items()
        if alarm.get("StateValue") == "ALARM"
    ]  # fmt: skip
    return findings + _subscription_findings(sns, topic, stage)


def _subscription_findings(sns: Any, topic: str, stage: str) -> list[Finding]:
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
    subscribed = [sub for page in pages for sub in page["Subscriptions"]]
    where = f"topic {topic.rsplit(':', 1)[-1]}"
    findings = [
        Finding(
            "subscription-pending",
            where,
            f"the subscription of {sub.get('Endpoint')} is not confirmed: alarms do not reach it",
            f"confirm it from the message SNS sent to {sub.get('Endpoint')} (or resubscribe: {_email_fix(stage)})",
        )
        for sub in subscribed
        if sub.get("SubscriptionArn") == PENDING
    ]
    if not subscribed:
        findings.append(
            Finding("subscription-none", where, "nobody is subscribed: alarms reach no one", _email_fix(stage))
        )
    return findings


def _email_fix(stage: str) -> str:
    return f"nicelist provision --stage {stage} --alarm-email ADDRESS"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _document(document: Any) -> dict[str, Any]:
    """IAM returns policy documents URL-encoded; boto3 usually decodes them already."""
    if isinstance(document, str):
        parsed: dict[str, Any] = json.loads(urllib.parse.unquote(document))
        return parsed
    return dict(document)


def _role_documents(iam: Any, role: str) -> list[tuple[str, dict[str, Any]]]:
    documents = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        documents.append(
            (f"inline {name}", _document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]))
        )
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        arn = attached["PolicyArn"]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        documents.append((f"attached {arn}", _document(document)))
    return documents


def _allowed_wildcards(template: dict[str, Any]) -> list[tuple[str, set[str], Any]]:
    """(resource, actions, condition) of each wildcard resource the least-privilege template grants."""
    return [
        (resource, set(_listed(statement["Action"])), statement.get("Condition"))
        for statement in template["Statement"]
        for resource in _listed(statement["Resource"])
        if "*" in resource
    ]


def _broad(statement: dict[str, Any], allowed: list[tuple[str, set[str], Any]]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement or "NotResource" in statement:
        return True
    actions = set(_listed(statement.get("Action", [])))
    if any("*" in action for action in actions):
        return True
    return any(
        "*" in resource
        and not any(resource == r and actions <= a and statement.get("Condition") == c for r, a, c in allowed)
        for resource in _listed(statement.get("Resource", []))
    )


def iam_findings(iam: Any, stage: str, region: str, roles: dict[str, str]) -> list[Finding]:
    """Wildcard actions or resources in the roles' policies beyond what deploy/policies grants.
    ``roles``: {"writer": role name, "api": role name} (from zappa_settings.json)."""
    findings = []
    for kind, role in roles.items():
        try:
            arn = str(iam.get_role(RoleName=role)["Role"]["Arn"])
        except ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise
            findings.append(
                Finding(
                    "iam-role-missing", f"role {role}", "missing", f"nicelist deploy policy --stage {stage} --apply"
                )
            )
            continue
        partition, account = arn.split(":")[1], arn.split(":")[4]
        template = render_policies(PolicyTarget(stage, account, region, partition))[kind]["policy"]
        allowed = _allowed_wildcards(template)
        for source, document in _role_documents(iam, role):
            for index, statement in enumerate(_listed(document.get("Statement", []))):
                if _broad(statement, allowed):
                    findings.append(_broad_finding(stage, role, source, statement, index))
    return findings


def _broad_finding(stage: str, role: str, source: str, statement: dict[str, Any], index: int) -> Finding:
    kind, _, name = source.partition(" ")
    remove = (
        f"aws iam delete-role-policy --role-name {role} --policy-name {name}"
        if kind == "inline"
        else f"aws iam detach-role-policy --role-name {role} --policy-arn {name}"
    )
    actions = statement.get("Action", statement.get("NotAction"))
    resources = statement.get("Resource", statement.get("NotResource"))
    return Finding(
        "iam-broad",
        f"role {role} ({source})",
        f"statement {statement.get('Sid', index)} allows {actions} on {resources}: broader than deploy/policies",
        f"{remove}, then nicelist deploy policy --stage {stage} --apply",
    )


def check_stage(clients: LiveClients, stage: str, roles: dict[str, str], live: LiveStage | None) -> list[Finding]:
    """Every live problem of the deployed stage; empty when it is sound. ``live``: what ``AwsStage`` read
    (None when the writer is not deployed)."""
    writer, findings = function_findings(clients.lambda_, stage, "writer")
    findings += function_findings(clients.lambda_, stage, "api")[1]
    findings += queue_findings(clients.sqs, stage, writer)
    queue = queue_attributes(clients.sqs, StageNames(stage).queue)
    if writer is not None and queue:
        findings += mapping_findings(clients.lambda_, stage, queue["QueueArn"])
    findings += table_findings(clients.dynamodb, stage)
    if live is not None and live.facts.visibility_timeout is not None:
        findings += tuning_findings(live.tuning, live.facts)
    findings += alarm_findings(clients.cloudwatch, clients.sns, stage)
    findings += iam_findings(clients.iam, stage, clients.region, roles)
    return findings
