"""The drain estimate's arithmetic, and updates per message measured from the writers' own log lines."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nicelist.drain import MIX_REFRESH, MIX_WINDOW, LoggedMix, MessageMix, estimate, message_mix
from nicelist.logs import FileSource
from nicelist.status import BacklogTrend

NOW = dt.datetime(2026, 12, 23, 18, 0, tzinfo=dt.UTC)


def _batch(at: dt.datetime, **fields: Any) -> str:
    record = {"level": "INFO", "message": "batch done", "timestamp": at.isoformat(), **fields}
    return json.dumps(record) + "\n"


def test_the_measured_rate_beats_the_budget_and_the_budget_is_capped_by_the_table() -> None:
    mix = MessageMix(100.0, "given")
    measured = estimate(40, mix, measured=200.0, budget=500.0, capacity=300)
    assert (measured.rate_source, measured.rate_wcu_s) == ("measured", 200.0)
    assert measured.seconds == pytest.approx(40 * 100 * 1.375 / 200)
    assert measured.seconds_at_budget == pytest.approx(40 * 100 * 1.375 / 300)
    assert "18.3 s at W if the writers spend all of it" in measured.line
    budget = estimate(40, mix, measured=0.0, budget=500.0, capacity=300)
    assert (budget.rate_source, budget.rate_wcu_s) == ("budget", 300)
    assert "messages x 100 updates/message" in budget.line


def test_no_rate_or_no_queue_is_unknown_not_zero() -> None:
    mix = MessageMix(1.0, "assumed")
    assert estimate(10, mix, measured=None, budget=None).seconds is None
    assert "unknown" in estimate(None, mix, measured=5.0, budget=5.0).line
    assert "assumed" in estimate(10, mix, measured=None, budget=10.0).line
    assert estimate(0, mix, measured=5.0, budget=5.0).line == "drain estimate: nothing to drain (the queue is empty)"


def test_updates_per_message_comes_from_the_writers_batch_lines(tmp_path: Path) -> None:
    log = tmp_path / "writer.log"
    log.write_text(
        _batch(NOW - dt.timedelta(minutes=30), messages=1, updates=1)  # too old: outside the window
        + _batch(NOW - dt.timedelta(minutes=2), messages=10, updates=9_000)
        + '{"level": "INFO", "message": "remainder deferred", "messages": 99, "updates": 1}\n'
        + _batch(NOW - dt.timedelta(minutes=1), messages=10, updates=1_000)
    )
    mix = message_mix(None, LoggedMix([FileSource(log, "writer")], str(log)), NOW)
    assert (mix.source, mix.messages_seen, mix.updates_per_message) == ("writer logs", 20, 500.0)
    assert message_mix(7.0, LoggedMix([FileSource(log, "writer")], str(log)), NOW) == MessageMix(7.0, "given")
    missing = message_mix(None, LoggedMix([FileSource(tmp_path / "none.log", "writer")], "none.log"), NOW)
    assert (missing.source, missing.note) == ("assumed", "no batch done line in none.log in the last 10 min")
    assert "assumed: no batch done line in none.log" in missing.describe()


def test_later_reads_add_new_lines_and_forget_old_ones(tmp_path: Path) -> None:
    log = tmp_path / "writer.log"
    log.write_text(_batch(NOW - dt.timedelta(minutes=9), messages=1, updates=10))
    logged = LoggedMix([FileSource(log, "writer")], str(log))
    assert logged.read(NOW) == MessageMix(10.0, "writer logs", 1)
    with log.open("a") as stream:
        stream.write(_batch(NOW, messages=1, updates=30))
    assert logged.read(NOW) == MessageMix(10.0, "writer logs", 1)  # read again only after MIX_REFRESH
    later = NOW + MIX_REFRESH
    assert logged.read(later) == MessageMix(20.0, "writer logs", 2)
    assert logged.read(NOW + MIX_WINDOW - dt.timedelta(minutes=8)) == MessageMix(30.0, "writer logs", 1)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=80, deadline=None)
@given(messages=JSON | st.integers(min_value=-3, max_value=50), updates=JSON, junk=st.binary(max_size=200))
@example(messages=True, updates=5, junk=b"")
@example(messages=-1, updates=5, junk=b"")
@example(messages=2, updates="5", junk=b"\xff{")
@example(messages=1, updates=10**400, junk=b"")
@example(messages=0, updates=10**6, junk=b"")
@example(messages=10**6, updates=1, junk=b"")
def test_hostile_counts_in_a_log_line_are_ignored(
    tmp_path_factory: Any, messages: Any, updates: Any, junk: bytes
) -> None:
    log = tmp_path_factory.mktemp("logs") / "writer.log"
    junk_line = junk.replace(b"\n", b" ") + b"\n"
    log.write_bytes(
        junk_line
        + _batch(NOW, messages=messages, updates=updates).encode()
        + _batch(NOW, messages=4, updates=8).encode()
    )
    mix = LoggedMix([FileSource(log, "writer")], str(log)).read(NOW)
    valid = type(messages) is int and type(updates) is int and 0 < messages <= 10_000
    if valid and 0 <= updates <= messages * 20_000:
        assert mix is not None and mix.updates_per_message == pytest.approx((updates + 8) / (messages + 4))
    else:
        assert mix == MessageMix(2.0, "writer logs", 4)


def test_a_line_from_the_future_is_not_the_writers(tmp_path: Path) -> None:
    log = tmp_path / "writer.log"
    log.write_text(_batch(NOW + dt.timedelta(days=1), messages=1, updates=10_000) + _batch(NOW, messages=1, updates=2))
    assert LoggedMix([FileSource(log, "writer")], str(log)).read(NOW) == MessageMix(2.0, "writer logs", 1)


def test_the_trend_is_the_backlogs_slope() -> None:
    trend = BacklogTrend()
    assert "measuring" in trend.line()
    for second, backlog in enumerate([100, 90, 80, 70]):
        trend.add(float(second), backlog)
    assert trend.slope() == pytest.approx(-10.0)
    assert "empty in 7 s" in trend.line()
    flat = BacklogTrend()
    flat.add(0.0, 5)
    flat.add(2.0, 6)
    assert "not falling" in flat.line()
