"""DynamoDB auto scaling against moto in-process: provisioning registers it idempotently and never
undoes a scale out, and the meter's auto scaler applies the target tracking policy it finds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from nicelist.autoscaling import AutoScaling, AutoScalingError, policy_name, resource_id
from nicelist.local.meter.autoscaling import AutoScaler
from nicelist.local.meter.core import Meter
from nicelist.local.meter.protocol import Charge
from nicelist.provision import Clients, ProvisionOptions, provision_stage
from tests.unit.test_meter_limiter import FakeClock

TABLE = "nicelist-dev"


@pytest.fixture
def clients() -> Iterator[Clients]:
    with mock_aws():
        yield Clients.create(region="us-east-1")


def wcu(clients: Clients) -> int:
    return int(clients.dynamodb.describe_table(TableName=TABLE)["Table"]["ProvisionedThroughput"]["WriteCapacityUnits"])


def actions(result: object) -> dict[str, str]:
    return {a.resource: a.action for a in result.actions if a.resource in {"autoscaling", "scaling-policy"}}  # type: ignore[attr-defined]


def test_provision_registers_auto_scaling_once_and_keeps_what_it_scaled(clients: Clients) -> None:
    # GIVEN a stage provisioned with auto scaling between 100 and 1000 WCU at 70 %
    options = ProvisionOptions(write_capacity=100, autoscale=AutoScaling.parse("100:1000:70"))
    assert actions(provision_stage("dev", clients, options)) == {"autoscaling": "created", "scaling-policy": "created"}
    target = clients.autoscaling.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"][0]
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == (resource_id(TABLE), 100, 1000)
    policy = clients.autoscaling.describe_scaling_policies(ServiceNamespace="dynamodb")["ScalingPolicies"][0]
    assert policy["PolicyName"] == policy_name(TABLE)
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 70.0
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == "DynamoDBWriteCapacityUtilization"
    # WHEN auto scaling has raised the table to 400 WCU and the stage is provisioned again
    clients.dynamodb.update_table(
        TableName=TABLE, ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 400}
    )
    again = provision_stage("dev", clients, options)
    # THEN nothing changes: the table keeps its 400 WCU, target and policy are unchanged
    assert actions(again) == {"autoscaling": "unchanged", "scaling-policy": "unchanged"}
    assert wcu(clients) == 400
    # AND a plain re-provision (no --autoscale) leaves an auto-scaled table's WCU alone too
    provision_stage("dev", clients, ProvisionOptions(write_capacity=100))
    assert wcu(clients) == 400


@pytest.mark.parametrize("text", ["", "100", "0:10", "10:5", "1:10:95", "1:10:5", "a:b", "1:10:70:1", "1:99999999"])
def test_bad_autoscale_specs_are_refused(text: str) -> None:
    with pytest.raises(AutoScalingError):
        AutoScaling.parse(text)


def test_the_meter_scales_the_table_by_the_policy_it_finds(clients: Clients) -> None:
    # GIVEN an auto-scaled stage (100..1000 WCU, 70 %) and a meter enforcing it, one minute a second
    provision_stage("dev", clients, ProvisionOptions(write_capacity=100, autoscale=AutoScaling.parse("100:1000:70")))
    clock = FakeClock(1_000.0)
    meter = Meter({TABLE: 100}, burst_seconds=0, clock=clock)
    scaler = AutoScaler(meter, clients.autoscaling, clients.dynamodb, time_factor=60, clock=clock)
    # WHEN the writers take 97 WCU/s for two emulated minutes
    for second in (1_000, 1_001):
        clock.now = second + 0.5
        meter.settle(meter.admit_all([Charge(TABLE, 97)]))
        clock.now = second + 1.0
        decisions = scaler.tick()
    # THEN the second minute scales out to ceil(97 / 0.7) = 139 WCU: in the table and in the meter
    assert [(d.before, d.after) for d in decisions] == [(100, 139)]
    assert wcu(clients) == 139
    assert meter.capacity(TABLE) == 139
    clock.now = 1_002.5
    assert meter.admit_all([Charge(TABLE, 139)]).admitted == (True,)


def test_provision_without_autoscale_needs_no_auto_scaling_rights(clients: Clients) -> None:
    # GIVEN a provisioned stage, and an operator whose role may not call Application Auto Scaling
    provision_stage("dev", clients, ProvisionOptions(write_capacity=100))
    with Stubber(clients.autoscaling) as denied:
        denied.add_client_error("describe_scalable_targets", "AccessDeniedException")
        # WHEN the stage is provisioned again without --autoscale THEN it works as before
        provision_stage("dev", clients, ProvisionOptions(write_capacity=100))
        # AND with --autoscale the refusal is reported, not hidden
        denied.add_client_error("describe_scalable_targets", "AccessDeniedException")
        with pytest.raises(ClientError):
            provision_stage("dev", clients, ProvisionOptions(write_capacity=100, autoscale=AutoScaling(100, 200)))
    assert wcu(clients) == 100
