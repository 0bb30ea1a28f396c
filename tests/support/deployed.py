"""A deployed stage faked on moto (in-process ``mock_aws``): what ``nicelist provision``, ``nicelist deploy
policy --apply``, ``zappa deploy`` and ``nicelist deploy configure`` leave behind, as far as the doctor and
``nicelist tune`` care. moto's Lambda stores functions, reserved concurrency and event source mappings
(ScalingConfig and ProvisionedPollerConfig included) without running them."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import boto3

from nicelist.mapping import MappingSettings, configure_mapping
from nicelist.provision import Clients, ProvisionOptions, provision_stage

REGION = "us-east-1"
STAGE = ["--stage", "dev", "--region", REGION]


def function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def deploy_function(
    name: str, *, reserved: int | None, concurrency: str = "2", level: str = "INFO", timeout: int = 60
) -> None:
    """What `zappa deploy` leaves behind: the function (its role named as zappa_settings.json names it)."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="writer.handler.lambda_handler",
        Code={"ZipFile": function_zip()},
        Timeout=timeout,
        Environment={
            "Variables": {"NICELIST_CONCURRENCY": concurrency, "LOG_LEVEL": level, "POWERTOOLS_LOG_LEVEL": level}
        },
    )
    if reserved is not None:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)


def deploy_stage(
    stage: str = "dev", *, reserved: int = 2, email: str | None = "ops@example.org", configure: bool = True
) -> Clients:
    """A whole sound stage: provisioned, both functions deployed, the mapping configured."""
    clients = Clients.create(region=REGION)
    provision_stage(stage, clients, ProvisionOptions(alarm_email=email))
    deploy_function(f"nicelist-{stage}-writer", reserved=reserved, concurrency=str(reserved))
    deploy_function(f"nicelist-{stage}-api", reserved=None)
    if configure:
        lam = boto3.client("lambda", region_name=REGION)
        configure_mapping(lam, clients.sqs, clients.ssm, stage, MappingSettings())
    return clients


def writer_mapping(stage: str = "dev") -> dict[str, Any]:
    mappings = boto3.client("lambda", region_name=REGION).list_event_source_mappings(
        FunctionName=f"nicelist-{stage}-writer"
    )["EventSourceMappings"]
    assert len(mappings) == 1
    return dict(mappings[0])
