"""What a new user hit on the first day, each closed by a test that failed before the fix.

- ``nicelist send FILE --api URL`` with the URL ``nicelist up`` prints answered 404, and demanded an
  ``--api-key`` the local stack's own key would have done for;
- ``nicelist status`` labelled the budget W "write rate" and printed numbers as strings in ``--json``;
- every command against a stopped local stack said only "Could not connect to the endpoint URL".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws
from werkzeug.serving import make_server

from contract.updates import parse_body
from nicelist.cli import main
from nicelist.local.meter import DynamoMeter
from nicelist.local.meter.protocol import Charge
from nicelist.local.processes import free_port
from nicelist.provision import Clients, ProvisionOptions, provision_stage
from producers.api import create_app
from producers.settings import ProducerSettings
from tests.unit.test_meter_limiter import FakeClock

UPDATE = {"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": "2026-12-23T18:04:05Z"}
OPS = ["--stage", "ops", "--region", "us-east-1"]


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("NICELIST_API_KEY", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        sqs.create_queue(QueueName="nicelist-dev-updates")
        yield sqs


def serve_api(sqs: Any, key: str) -> Iterator[str]:
    """The enqueue API on a free port of this machine, in a thread, in front of moto's SQS."""
    url = sqs.get_queue_url(QueueName="nicelist-dev-updates")["QueueUrl"]
    app = create_app(ProducerSettings(stage="dev", api_keys=(key,), queue_url=url), sqs=sqs)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def local_api(queue: Any) -> Iterator[str]:
    yield from serve_api(queue, "local-dev-key")


def queued(sqs: Any) -> list[str]:
    url = sqs.get_queue_url(QueueName="nicelist-dev-updates")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [u.child_id for m in messages for u in parse_body(m["Body"]).updates]


def updates_file(tmp_path: Path) -> str:
    path = tmp_path / "updates.jsonl"
    path.write_text(json.dumps(UPDATE) + "\n")
    return str(path)


# --- nicelist send --api ------------------------------------------------------------------------


def test_send_takes_the_endpoint_url_nicelist_up_prints(queue: Any, local_api: str, tmp_path: Path) -> None:
    # GIVEN the URL as `nicelist up` prints it, endpoint path included
    # WHEN sending a file through it
    result = CliRunner().invoke(
        main, ["send", updates_file(tmp_path), "--api", f"{local_api}/v1/updates", "--api-key", "local-dev-key"]
    )
    # THEN it is sent (it was a 404: the SDK appended /v1/updates a second time)
    assert result.exit_code == 0, result.output
    assert queued(queue) == ["c-1"]


@pytest.mark.parametrize("suffix", ["", "/", "/v1/updates/"])
def test_send_needs_no_api_key_for_the_local_stack(queue: Any, local_api: str, tmp_path: Path, suffix: str) -> None:
    # GIVEN the local stack's API on this machine, and no key given
    result = CliRunner().invoke(main, ["send", updates_file(tmp_path), "--api", local_api + suffix])
    # THEN its known key is used (it was: "--api needs --api-key")
    assert result.exit_code == 0, result.output
    assert queued(queue) == ["c-1"]


def test_the_api_key_from_the_environment_wins(queue: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an API on this machine whose key is not the local default, and the key in NICELIST_API_KEY
    for url in serve_api(queue, "my-own-key"):
        monkeypatch.setenv("NICELIST_API_KEY", "my-own-key")
        result = CliRunner().invoke(main, ["send", updates_file(tmp_path), "--api", url])
        # THEN the environment's key is the one sent
        assert result.exit_code == 0, result.output
    assert queued(queue) == ["c-1"]


def test_an_api_elsewhere_still_needs_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NICELIST_API_KEY", raising=False)
    result = CliRunner().invoke(main, ["send", updates_file(tmp_path), "--api", "https://api.example.org/prod"])
    assert result.exit_code == 2
    assert "--api-key" in result.output


def test_a_wrong_api_url_is_one_clear_error(queue: Any, local_api: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["send", updates_file(tmp_path), "--api", f"{local_api}/nowhere"])
    assert result.exit_code == 1
    assert "no nicelist API at" in result.output and "404" in result.output


# --- nicelist status: the budget and the measured rate ----------------------------------------------


@pytest.fixture
def ops() -> Iterator[Clients]:
    with mock_aws():
        clients = Clients.create(region="us-east-1")
        provision_stage("ops", clients, ProvisionOptions(write_capacity=100, write_rate=97))
        yield clients


@pytest.fixture
def meter() -> Iterator[DynamoMeter]:
    """The local stack's meter, having seen 45 WCU/s reach the table for a minute."""
    clock = FakeClock(2_000_000_000.0)
    with DynamoMeter(upstream="http://127.0.0.1:9", port=free_port(), clock=clock) as running:
        for _ in range(60):
            for _ in range(3):
                running.meter.settle(running.meter.admit_all([Charge("nicelist-ops", 15)]))
            clock.now += 1.0
        yield running


def test_status_shows_the_budget_and_the_rate_the_meter_measured(ops: Clients, meter: DynamoMeter) -> None:
    # GIVEN a budget W of 97 WCU/s and a meter that saw 45 WCU/s reach the table
    out = CliRunner().invoke(main, ["status", *OPS, "--meter-url", meter.url])
    # THEN both are shown, each under its own name (W was labelled "write rate")
    assert out.exit_code == 0, out.output
    assert "write budget   97 WCU/s" in out.output
    assert "table capacity 100 WCU" in out.output
    assert "write rate     45 WCU/s measured (meter" in out.output


def test_status_json_has_numbers_as_numbers(ops: Clients, meter: DynamoMeter) -> None:
    out = CliRunner().invoke(main, ["status", *OPS, "--meter-url", meter.url, "--json"])
    data = json.loads(out.output)
    assert data["write_budget"] == 97 and isinstance(data["write_budget"], float)
    assert (data["measured_write_rate"], data["measured_by"]) == (45.0, "meter")
    assert data["table_write_capacity"] == 100
    assert all(isinstance(data[k], int) for k in ("visible", "in_flight", "dlq_visible", "table_items"))


def test_on_aws_the_rate_comes_from_cloudwatch(ops: Clients) -> None:
    # GIVEN no meter (a deployed stage) and a minute of ConsumedWriteCapacityUnits: 3000 units
    ops.cloudwatch.put_metric_data(
        Namespace="AWS/DynamoDB",
        MetricData=[
            {
                "MetricName": "ConsumedWriteCapacityUnits",
                "Dimensions": [{"Name": "TableName", "Value": "nicelist-ops"}],
                "Value": 3000.0,
                "Unit": "Count",
                # a minute that is over (moto compares against the query's end truncated to the second)
                "Timestamp": datetime.now(UTC) - timedelta(seconds=30),
            }
        ],
    )
    data = json.loads(CliRunner().invoke(main, ["status", *OPS, "--json"]).output)
    # THEN the rate is that minute's mean
    assert (data["measured_write_rate"], data["measured_by"]) == (50.0, "cloudwatch")


def test_the_rate_is_unknown_without_meter_or_datapoint(ops: Clients) -> None:
    out = CliRunner().invoke(main, ["status", *OPS, "--meter-url", f"http://127.0.0.1:{free_port()}"])
    assert "write rate     unknown" in out.output
    data = json.loads(CliRunner().invoke(main, ["status", *OPS, "--json"]).output)
    assert data["measured_write_rate"] is None


# --- a stopped local stack ------------------------------------------------------------------------

COMMANDS = [
    ["status"],
    ["rate"],
    ["rate", "50"],
    ["dlq", "peek"],
    ["dlq", "redrive"],
    ["dlq", "purge", "--yes"],
    ["get", "c-1"],
    ["provision"],
    ["send", "--generate", "1"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_says_how_to_start_the_local_stack(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN stage local, and nothing listening where its embedded AWS should be
    monkeypatch.setattr("nicelist.options.LOCAL_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.delenv("NICELIST_STAGE", raising=False)
    # WHEN any command runs
    result = CliRunner().invoke(main, command)
    # THEN it fails, saying the local stack is not running and how to start it
    assert result.exit_code == 1, result.output
    assert "Could not connect to the endpoint URL" in result.output
    assert "`nicelist up` is not running" in result.output
    assert "make up" in result.output and ".venv/bin/nicelist up" in result.output


def test_send_through_a_stopped_local_api_says_how_to_start_it(tmp_path: Path) -> None:
    port = free_port()
    result = CliRunner().invoke(main, ["send", updates_file(tmp_path), "--api", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert "`nicelist up` is not running" in result.output and "make up" in result.output


def test_status_counts_the_throttles_the_meter_saw(ops: Clients) -> None:
    # GIVEN a strict 50 WCU/s table that took 45 units a second for a minute and refused 2 requests of 100
    clock = FakeClock(2_000_000_000.0)
    with DynamoMeter(
        upstream="http://127.0.0.1:9", port=free_port(), clock=clock, capacity={"nicelist-ops": 50}, burst_seconds=0
    ) as running:
        for second in range(60):
            running.meter.settle(running.meter.admit_all([Charge("nicelist-ops", 45)]))
            if second in (10, 20):
                running.meter.settle(running.meter.admit_all([Charge("nicelist-ops", 100)]))
            clock.now += 1.0
        data = json.loads(CliRunner().invoke(main, ["status", *OPS, "--meter-url", running.url, "--json"]).output)
    # THEN the rate and the throttles both come from the meter
    assert (data["measured_by"], data["measured_write_rate"], data["throttles"]) == ("meter", 45.0, 2)


def test_status_reads_no_throttle_datapoint_beside_measured_writes_as_none(ops: Clients) -> None:
    # GIVEN CloudWatch holding the table's consumed writes of the last minute and no WriteThrottleEvents
    ops.cloudwatch.put_metric_data(
        Namespace="AWS/DynamoDB",
        MetricData=[
            {"MetricName": "ConsumedWriteCapacityUnits", "Dimensions": [{"Name": "TableName", "Value": "nicelist-ops"}],
             "Timestamp": datetime.now(UTC) - timedelta(seconds=30), "Value": 1200.0, "Unit": "Count"}
        ],
    )  # fmt: skip
    data = json.loads(CliRunner().invoke(main, ["status", *OPS, "--json"]).output)
    # THEN the rate is CloudWatch's, and the throttles are 0, not unknown (DynamoDB publishes none when none)
    assert (data["measured_by"], data["measured_write_rate"], data["throttles"]) == ("cloudwatch", 20.0, 0)
