"""The dashboard's pure parts: the notifications file as hostile input, the state query, feeds, markers."""

from __future__ import annotations

import json
import math
import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nicelist.dashboard import collector
from nicelist.dashboard.collector import jsonable, meter_reading
from nicelist.dashboard.feeds import Feed
from nicelist.dashboard.notifications import FIELD_CHARS, FIELDS, TAIL_BYTES, latest_notifications, parse_line
from nicelist.dashboard.positions import marker
from nicelist.dashboard.serve import free_dashboard_port
from nicelist.dashboard.server import MAX_MARKERS, QueryError, parse_state_query, state_body
from nicelist.local.processes import StartupError
from nicelist.reader import ChildState, LocationRecord, StatusRecord


@given(st.binary(max_size=3000))
def test_any_bytes_in_the_notifications_file_give_short_text_fields_or_nothing(data: bytes) -> None:
    # (pytest's tmp_path would be shared between hypothesis's examples: one folder per example)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "notifications.log").write_bytes(data)
        found = latest_notifications(Path(folder))
    for entry in found:
        assert set(entry) == set(FIELDS)
        assert all(value is None or (isinstance(value, str) and len(value) <= FIELD_CHARS) for value in entry.values())


def test_notifications_newest_first_hostile_lines_skipped_missing_file_empty(tmp_path: Path) -> None:
    assert latest_notifications(tmp_path) == [] and latest_notifications(None) == []
    lines = [
        json.dumps({"time": "t1", "alarm": "a", "state": "ALARM", "previous": "OK", "reason": "r"}),
        "not json",
        "[1, 2]",
        json.dumps({"unrelated": True}),
        json.dumps({"time": 2, "alarm": {"nested": "<b>"}, "state": "OK", "previous": "ALARM", "reason": "x" * 9999}),
        '{"time": "cut mid-li',
    ]
    (tmp_path / "notifications.log").write_text("\n".join(lines))
    newest, oldest = latest_notifications(tmp_path)
    assert oldest == {"time": "t1", "alarm": "a", "state": "ALARM", "previous": "OK", "reason": "r"}
    assert (
        newest["time"] == "2" and newest["alarm"] == '{"nested": "<b>"}' and len(newest["reason"] or "") == FIELD_CHARS
    )


def test_only_the_tail_of_a_long_file_is_read_and_its_cut_first_line_is_dropped(tmp_path: Path) -> None:
    line = json.dumps({"time": "t", "alarm": "a" * 200, "state": "OK"}) + "\n"
    (tmp_path / "notifications.log").write_text(line * (3 * TAIL_BYTES // len(line)))
    found = latest_notifications(tmp_path, count=10_000)
    assert 0 < len(found) <= TAIL_BYTES // len(line) and all(entry["alarm"] == "a" * 200 for entry in found)
    assert parse_line(line) is not None and parse_line(line[5:]) is None


@given(st.text(max_size=300))
def test_the_state_query_is_a_marker_count_or_refused(query: str) -> None:
    try:
        markers = parse_state_query(query)
    except QueryError:
        return
    assert markers is None or 0 <= markers <= MAX_MARKERS
    assert query == "" or query.startswith("markers=")


@pytest.mark.parametrize(
    ("query", "expected"), [("", None), ("markers=0", 0), ("markers=12", 12), (f"markers={MAX_MARKERS}", MAX_MARKERS)]
)
def test_the_state_query_takes_markers(query: str, expected: int | None) -> None:
    assert parse_state_query(query) == expected


@pytest.mark.parametrize(
    "query",
    ["markers=-1", f"markers={MAX_MARKERS + 1}", "markers=1&markers=2", "markers=", "x=1", "markers=\u0661", "&&"],
)
def test_the_state_query_refuses_everything_else(query: str) -> None:
    with pytest.raises(QueryError):
        parse_state_query(query)


def test_state_body_cuts_the_markers_and_refuses_nothing_json_cannot_hold() -> None:
    state = jsonable({"map": {"children": [{"id": "a"}, {"id": "b"}]}, "rate": math.nan, "n": [math.inf, 1.5]})
    assert json.loads(state_body(state, 1)) == {"map": {"children": [{"id": "a"}]}, "rate": None, "n": [None, 1.5]}


def test_a_feed_keeps_its_last_value_and_says_since_when_it_is_down() -> None:
    feed: Feed[int] = Feed("moto")

    def down() -> int:
        raise ConnectionRefusedError("refused")

    assert feed.read(lambda: 7, 1.0) == 7 and feed.ok is True
    assert feed.read(down, 2.0) is None and feed.read(down, 3.0) is None
    assert (feed.value, feed.ok, feed.last_ok, feed.down_since) == (7, False, 1.0, 2.0)
    assert feed.error is not None and "refused" in feed.error
    assert feed.read(lambda: 8, 4.0) == 8 and (feed.ok, feed.down_since, feed.error) == (True, None, None)
    with pytest.raises(ZeroDivisionError):  # a bug is not "the stack is down"
        feed.read(lambda: 1 // 0, 5.0)


def test_a_marker_only_for_a_position_a_map_can_show() -> None:
    status = StatusRecord("naughty", None, "2026-12-23T18:00:00Z", None)

    def state(lat: float, lon: float) -> ChildState:
        return ChildState("c-1", status, LocationRecord(lat, lon, None, "2026-12-23T18:00:00Z", None))

    assert marker(state(51.5, -0.1)) == {
        "id": "c-1", "lat": 51.5, "lon": -0.1, "status": "naughty", "observed_at": "2026-12-23T18:00:00Z",
    }  # fmt: skip
    for lat, lon in [(math.nan, 0.0), (0.0, math.inf), (91.0, 0.0), (0.0, -181.0)]:
        assert marker(state(lat, lon)) is None
    assert marker(ChildState("c-2", status, None)) is None


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["tables", "t", "series", "totals", "units", "now"]) | st.text(max_size=3),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


_LEDGER = st.dictionaries(st.sampled_from(["series", "totals", "capacity"]), _JSON | st.lists(_JSON, max_size=3))
_ANSWERS = _JSON | st.builds(lambda ledger, now: {"now": now, "tables": {"t": ledger}}, _LEDGER, _JSON)


@given(_ANSWERS)
def test_whatever_the_meter_answers_is_a_reading_or_a_value_error(answer: object) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(collector, "get_json", lambda url: answer)
        try:
            reading = meter_reading("http://meter", "t")
        except ValueError:
            return
    assert set(reading) == {"capacity", "now", "total_units", "series"}
    json.dumps(jsonable(reading), allow_nan=False)


def test_the_meter_reading_drops_the_second_that_is_not_over() -> None:
    ledger = {"capacity": 100, "totals": {"units": 7}, "series": [{"second": 1, "units": 5}, {"second": 2, "units": 2}]}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(collector, "get_json", lambda url: {"now": 2.5, "tables": {"t": ledger}})
        reading = meter_reading("http://meter", "t")
    assert reading == {
        "capacity": 100, "now": 2.5, "total_units": 7,
        "series": [{"second": 1, "units": 5, "throttled_units": 0, "throttle_events": 0}],
    }  # fmt: skip


def test_a_taken_dashboard_port_is_refused_before_the_stack_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match="--dashboard-port"):
            free_dashboard_port(port)
    assert free_dashboard_port(port) == port
