"""``nicelist tune --write-rate auto[:F]`` on a deployed stage faked with moto: the parameter says auto,
W follows the table's capacity as the writers compute it, and a hostile value is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from nicelist.cli import main
from nicelist.provision import Clients
from tests.support.deployed import REGION, STAGE, deploy_stage
from writer.autorate import InvalidWriteRate, parse_write_rate

RATE = "/nicelist/dev/write-rate"


@pytest.fixture
def stage() -> Iterator[Clients]:
    with mock_aws():
        yield deploy_stage()


def tune(*arguments: str) -> Result:
    return CliRunner().invoke(main, ["tune", *STAGE, *arguments])


def parameter() -> str:
    return str(boto3.client("ssm", region_name=REGION).get_parameter(Name=RATE)["Parameter"]["Value"])


def test_auto_writes_the_fraction_and_shows_what_the_writers_will_spend(stage: Clients) -> None:
    # GIVEN a deployed stage whose table has 100 WCU and W = 100
    # WHEN the operator lets the writers follow the table at 0.95 of it
    result = tune("--write-rate", "auto:0.95")
    # THEN the parameter says so, and tune shows W as the writers derive it
    assert result.exit_code == 0, result.output
    assert parameter() == "auto:0.95"
    assert "auto (0.95 x 100 WCU = 95)" in result.output
    # AND once auto scaling raises the table, `tune` (no options) shows W following it
    stage.dynamodb.update_table(
        TableName="nicelist-dev", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 400}
    )
    shown = tune()
    assert "auto (0.95 x 400 WCU = 380)" in shown.output
    # AND a number ends auto mode
    assert tune("--write-rate", "80").exit_code == 0
    assert parameter() == "80"


def test_auto_json_and_default_fraction(stage: Clients) -> None:
    result = tune("--write-rate", "auto", "--json")
    assert result.exit_code == 0, result.output
    after = json.loads(result.stdout)["after"]
    assert (after["write_rate"], after["write_rate_auto"]) == (97.0, 0.97)
    assert parameter() == "auto"


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.text(max_size=20))
def test_a_hostile_write_rate_is_refused_before_anything_changes(stage: Clients, text: str) -> None:
    try:
        parse_write_rate(text)
    except InvalidWriteRate:
        result = tune("--write-rate", text)
        assert result.exit_code == 2  # a usage error, nothing written
        assert parameter() == "100"


def test_status_shows_the_auto_budget_as_the_writers_derive_it(stage: Clients) -> None:
    assert tune("--write-rate", "auto:0.95").exit_code == 0
    shown = CliRunner().invoke(main, ["status", *STAGE])
    assert "write budget   auto (0.95 x 100 WCU = 95) (W, shared" in shown.output
    data = json.loads(CliRunner().invoke(main, ["status", *STAGE, "--json"]).output)
    assert (data["write_budget"], data["write_rate_auto"]) == (95.0, 0.95)


def test_rate_shows_an_auto_parameter_as_it_is(stage: Clients) -> None:
    assert tune("--write-rate", "auto:0.9").exit_code == 0
    shown = CliRunner().invoke(main, ["rate", *STAGE])
    assert shown.exit_code == 0, shown.output
    assert shown.output.strip() == "auto:0.9"
