"""The dashboard's collector against moto server: the stage's own numbers, the children's positions by
queries (a scan only now and then), and an embedded AWS that stops and comes back empty."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from moto.server import ThreadedMotoServer

from contract.keys import LOCATION, STATUS
from nicelist.dashboard.collector import Collector, StackEndpoints
from nicelist.dashboard.positions import DISCOVER_EVERY_SECONDS
from nicelist.local.processes import free_port
from nicelist.options import local_session
from nicelist.provision import Clients, ProvisionOptions, provision_stage
from nicelist.status import stage_status

TABLE = "nicelist-local"


class Moto:
    """moto server on a fixed port, so it can be stopped and started again where the collector reads."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        # In-process moto servers share one set of backends: empty them, as a new moto process starts empty.
        urllib3.PoolManager().request("POST", f"{self.url}/moto-api/reset")
        provision_stage("local", Clients.create(local_session(), endpoint_url=self.url), ProvisionOptions())

    def stop(self) -> None:
        assert self._server is not None
        self._server.stop()

    def client(self, service: str) -> Any:
        return local_session().client(service, endpoint_url=self.url)  # type: ignore[call-overload]


@pytest.fixture
def moto() -> Iterator[Moto]:
    server = Moto()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _child(dynamodb: Any, child: str, status: str, lat: float, lon: float) -> None:
    at = {"S": "2026-12-23T18:00:00Z"}
    key = {"child_id": {"S": child}}
    dynamodb.put_item(TableName=TABLE, Item={**key, "sk": {"S": STATUS}, "status": {"S": status}, "observed_at": at})
    position = {"lat": {"N": str(lat)}, "lon": {"N": str(lon)}, "observed_at": at}
    dynamodb.put_item(TableName=TABLE, Item={**key, "sk": {"S": LOCATION}, **position})


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_state_holds_the_stages_status_and_the_childrens_positions(moto: Moto, tmp_path: Path) -> None:
    # GIVEN a stage with a backlog and two children in the table
    dynamodb, sqs = moto.client("dynamodb"), moto.client("sqs")
    _child(dynamodb, "c-1", "nice", 51.5, -0.12)
    _child(dynamodb, "c-2", "naughty", -33.9, 151.2)
    queue = sqs.get_queue_url(QueueName="nicelist-local-updates")["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=queue, MessageBody=str(n))
    clock = Clock()
    collector = Collector(StackEndpoints("local", moto.url, moto.url, run_dir=tmp_path), clock=clock)

    # WHEN it reads the stack
    state = collector.refresh()

    # THEN the queue, the table and the alarms are what nicelist status reads
    status = stage_status(collector._target)
    for key in ("visible", "in_flight", "dlq_visible", "table_write_capacity", "write_budget"):
        assert state["status"][key] == getattr(status, key)
    assert state["status"]["visible"] == 3
    assert {a["name"]: a["state"] for a in state["status"]["alarms"]} == status.alarms
    # AND the map shows each child where the table has it
    children = {c["id"]: (c["status"], c["lat"], c["lon"]) for c in state["map"]["children"]}
    assert children == {"c-1": ("nice", 51.5, -0.12), "c-2": ("naughty", -33.9, 151.2)}
    assert state["lost"] == [] and state["map"]["queries"] == 2 and state["map"]["rcu_per_refresh"] == 1.0

    # WHEN it refreshes many times within the discovery interval THEN only queries read the table
    for _ in range(10):
        clock.now += 5
        collector.refresh()
    assert collector.sample.scans == 1 + int(50 // DISCOVER_EVERY_SECONDS)


def test_a_stopped_aws_is_reported_lost_with_its_last_figures_and_a_restarted_one_recovers(
    moto: Moto, tmp_path: Path
) -> None:
    _child(moto.client("dynamodb"), "c-1", "nice", 10.0, 20.0)
    clock = Clock()
    collector = Collector(StackEndpoints("local", moto.url, moto.url, run_dir=tmp_path), clock=clock)
    before = collector.refresh()
    assert before["lost"] == []

    # WHEN the embedded AWS stops
    moto.stop()
    clock.now += 10
    lost = collector.refresh()
    # THEN the state says what is lost and since when, and keeps the last figures it had (stale)
    assert set(lost["lost"]) == {"embedded AWS (moto)", "table (positions)"}
    assert lost["feeds"]["aws"]["down_since"] == clock.now and lost["feeds"]["aws"]["last_ok"] == clock.now - 10
    assert lost["status"] == before["status"] and lost["map"] == before["map"]

    # WHEN it comes back, empty, and the stage is provisioned again (as `nicelist up` would)
    # THEN the state is the new stack's: nothing of the old one is shown as current
    moto.start()
    clock.now += 10
    back = collector.refresh()
    assert back["lost"] == []
    assert back["map"]["children"] == [] and back["status"]["table_items"] == 0
