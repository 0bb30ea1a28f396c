"""Reading children back (``nicelist/reader.py``, ``nicelist get``) from a table the real writer filled."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from nicelist.cli import main
from nicelist.reader import ChildReader, LocationRecord, StatusRecord, TrackPoint
from tests.support.events import envelope, lambda_context, location, sqs_event, status
from tests.support.writer import Stage
from writer.handler import handle

AT = "2026-12-23T18:00:{:02d}Z"
NOT_LOCAL = ["--stage", "test", "--region", "us-east-1"]


class CountingQueries:
    """The DynamoDB client, counting the requests a reader makes."""

    def __init__(self, dynamodb: Any) -> None:
        self.dynamodb = dynamodb
        self.calls: list[dict[str, Any]] = []

    def query(self, **request: Any) -> Any:
        self.calls.append(request)
        return self.dynamodb.query(**request)


def write(stage: Stage, *updates: dict[str, Any]) -> None:
    assert handle(sqs_event(envelope(*updates)), lambda_context(), stage.deps()) == {"batchItemFailures": []}


@pytest.fixture
def filled(stage: Stage) -> Stage:
    """c-1: a status with a reason and five fixes (the newest at :09); c-2: a status only."""
    fixes = [location("c-1", AT.format(s), lat=50.0 + s, lon=-s / 10, accuracy_m=12.5) for s in (5, 1, 9, 3, 7)]
    write(stage, status("c-1", AT.format(2), "naughty", reason="ate the cookies early"), *fixes)
    write(stage, status("c-2", AT.format(4), "nice"))
    return stage


def test_get_without_the_track_reads_only_the_registers_in_one_query(filled: Stage) -> None:
    # GIVEN a child with registers and five track points
    client = CountingQueries(filled.dynamodb)
    # WHEN read without the track
    state = ChildReader(client, filled.table).get("c-1")
    # THEN one query returned exactly the two registers, typed
    assert state is not None and state.status is not None and state.location is not None
    assert state.status == StatusRecord(
        "naughty", "ate the cookies early", "2026-12-23T18:00:02.000000Z", state.status.written_at
    )
    assert state.location == LocationRecord(59.0, -0.9, 12.5, "2026-12-23T18:00:09.000000Z", state.location.written_at)
    assert state.status.written_at and state.track == []
    [request] = client.calls
    assert "BETWEEN" in request["KeyConditionExpression"]
    assert filled.dynamodb.query(**request)["Count"] == 2  # no track point was read


def test_the_track_comes_in_time_order(filled: Stage) -> None:
    state = ChildReader(filled.dynamodb, filled.table).get("c-1", track=True)
    assert state is not None
    assert [p.observed_at[17:19] for p in state.track] == ["01", "03", "05", "07", "09"]
    assert state.track[0] == TrackPoint(51.0, -0.1, 12.5, "2026-12-23T18:00:01.000000Z", state.track[0].written_at)


def test_a_track_limit_keeps_the_newest_points_and_pages_only_as_far_as_needed(filled: Stage) -> None:
    client = CountingQueries(filled.dynamodb)
    state = ChildReader(client, filled.table).get("c-1", track=True, track_limit=2)
    assert state is not None and state.status is not None and state.location is not None
    assert [p.observed_at[17:19] for p in state.track] == ["07", "09"]
    assert len(client.calls) == 1


def test_a_long_track_is_read_across_pages(stage: Stage) -> None:
    # GIVEN 30 fixes and pages of 4 items
    write(stage, *[location("c-9", f"2026-12-23T18:{m:02d}:00Z") for m in range(30)])
    client = CountingQueries(stage.dynamodb)
    original = client.query
    client.query = lambda **request: original(**{**request, "Limit": 4})  # type: ignore[method-assign]
    # WHEN the whole track is asked for
    state = ChildReader(client, stage.table).get("c-9", track=True, track_limit=None)
    # THEN every point is there, in order, from several pages of one Query each
    assert state is not None and len(state.track) == 30
    assert [p.observed_at for p in state.track] == sorted(p.observed_at for p in state.track)
    assert len(client.calls) == 8  # 31 items (30 points, LOCATION) in pages of 4
    assert all("ExclusiveStartKey" in call for call in client.calls[1:])


def test_expired_track_points_are_left_out(filled: Stage) -> None:
    # GIVEN a clock 31 days after the fixes (retention 30 days): TTL has not deleted them yet
    late = ChildReader(filled.dynamodb, filled.table, clock=lambda: 1_800_000_000 + 31 * 86_400)
    state = late.get("c-1", track=True)
    assert state is not None and state.track == [] and state.location is not None


def test_an_unknown_child_is_none_and_a_status_only_child_has_no_location(filled: Stage) -> None:
    reader = ChildReader(filled.dynamodb, filled.table)
    assert reader.get("c-404") is None
    state = reader.get("c-2", track=True)
    assert state is not None and state.location is None and state.track == []


def test_get_many_reads_in_parallel_and_keeps_the_order(filled: Stage) -> None:
    states = ChildReader(filled.dynamodb, filled.table).get_many(["c-2", "c-404", "c-1", "c-2"], max_workers=2)
    assert list(states) == ["c-2", "c-404", "c-1"]
    assert states["c-404"] is None
    assert states["c-1"] is not None and states["c-1"].status is not None


# --- nicelist get ---------------------------------------------------------------------------------


def test_get_prints_the_child(filled: Stage) -> None:
    out = CliRunner().invoke(main, ["get", "c-1", *NOT_LOCAL])
    assert out.exit_code == 0, out.output
    assert 'status     naughty  "ate the cookies early"' in out.output
    assert "location   59.000000, -0.900000  ±12.5 m" in out.output
    assert "track" not in out.output


def test_get_json_has_numbers_and_the_track_when_asked(filled: Stage) -> None:
    plain = json.loads(CliRunner().invoke(main, ["get", "c-1", *NOT_LOCAL, "--json"]).output)
    assert plain["track"] is None  # not read, which is not an empty track
    out = CliRunner().invoke(main, ["get", "c-1", *NOT_LOCAL, "--json", "--track", "--track-limit", "3"])
    data = json.loads(out.output)
    assert data["location"]["lat"] == 59.0 and data["location"]["accuracy_m"] == 12.5
    assert [p["lat"] for p in data["track"]] == [55.0, 57.0, 59.0]
    assert data["status"]["reason"] == "ate the cookies early"


def test_get_an_unknown_child_exits_1(filled: Stage) -> None:
    out = CliRunner().invoke(main, ["get", "c-404", *NOT_LOCAL])
    assert out.exit_code == 1
    assert "no child 'c-404'" in out.output
