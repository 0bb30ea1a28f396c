"""The optional bound on how far ahead of now an ``observed_at`` may be (``max_future_seconds``).

A clock set a year ahead would make one producer's updates win every comparison until that date
("newest wins"). GIVEN a bound, WHEN an update is more than that far ahead of ``now``, THEN the API
and the writer refuse it on ``observed_at``; without a bound (the default), nothing changes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.updates import InvalidBody, InvalidUpdate, format_timestamp, parse_body, parse_update

NOW = datetime(2026, 12, 23, 18, 0, tzinfo=UTC)


def status(moment: datetime | str, **extra: Any) -> dict[str, Any]:
    at = moment if isinstance(moment, str) else format_timestamp(moment)
    return {"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": at, **extra}


def refused(data: dict[str, Any], **options: Any) -> dict[str, str]:
    with pytest.raises(InvalidUpdate) as caught:
        parse_update(data, **options)
    return {error.field: error.message for error in caught.value.errors}


def test_exactly_the_bound_ahead_is_accepted_a_microsecond_more_is_not() -> None:
    at_bound = NOW + timedelta(seconds=3600)

    assert parse_update(status(at_bound), max_future_seconds=3600, now=NOW)
    message = refused(status(at_bound + timedelta(microseconds=1)), max_future_seconds=3600, now=NOW)["observed_at"]
    assert "is more than 3600 s ahead of now" in message


@given(
    now=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    ahead=st.timedeltas(timedelta(days=-400), timedelta(days=400)),
    bound=st.floats(0, 10**7, allow_nan=False) | st.sampled_from([0.0, 1.0, 3600.0]),
    offset_minutes=st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
def test_accepted_iff_no_more_than_the_bound_ahead_in_any_offset(
    now: datetime, ahead: timedelta, bound: float, offset_minutes: int
) -> None:
    moment = (now + ahead).astimezone(timezone(timedelta(minutes=offset_minutes)))
    spelled = moment.isoformat(timespec="microseconds")

    try:
        parse_update(status(spelled), max_future_seconds=bound, now=now)
        accepted = True
    except InvalidUpdate as invalid:
        assert [e.field for e in invalid.errors] == ["observed_at"]
        accepted = False

    assert accepted == (ahead <= timedelta(seconds=bound))


def test_without_a_bound_any_future_is_accepted() -> None:
    assert parse_update(status("9999-12-31T23:59:59Z"), now=NOW)
    assert parse_update(status("9999-12-31T23:59:59Z"))


def test_the_past_is_never_too_far() -> None:
    assert parse_update(status("0001-01-01T00:00:00Z"), max_future_seconds=0, now=NOW)


def test_the_default_now_is_the_wall_clock() -> None:
    real_now = datetime.now(UTC)
    assert parse_update(status(real_now - timedelta(seconds=5)), max_future_seconds=60)
    assert "ahead of now" in refused(status(real_now + timedelta(hours=1)), max_future_seconds=60)["observed_at"]


def test_a_future_timestamp_is_reported_with_the_other_problems() -> None:
    data = status(NOW + timedelta(days=1), status="grumpy", child_id="bad id")

    assert sorted(refused(data, max_future_seconds=3600, now=NOW)) == ["child_id", "observed_at", "status"]


def test_the_bound_is_written_as_given() -> None:
    message = refused(status(NOW + timedelta(seconds=2)), max_future_seconds=1.5, now=NOW)["observed_at"]
    assert "is more than 1.5 s ahead of now" in message


@pytest.mark.parametrize("options", [{"now": datetime(2026, 12, 23)}, {"max_future_seconds": -1}])
def test_a_naive_now_or_a_negative_bound_is_a_programming_error(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as caught:
        parse_update(status(NOW), **{"max_future_seconds": 60, "now": NOW, **options})
    assert not isinstance(caught.value, InvalidUpdate)


def test_a_bare_update_too_far_ahead_is_an_invalid_body() -> None:
    body = json.dumps(status(NOW + timedelta(hours=2)))

    with pytest.raises(InvalidBody, match=r"observed_at: .*is more than 3600 s ahead of now"):
        parse_body(body, max_future_seconds=3600, now=NOW)
    assert parse_body(body, now=NOW).updates


def test_an_envelope_keeps_its_timely_updates_and_rejects_the_one_too_far_ahead() -> None:
    updates = [status(NOW), status(NOW + timedelta(hours=2), child_id="c-2"), status(NOW + timedelta(minutes=59))]
    parsed = parse_body(json.dumps({"v": 1, "updates": updates}), max_future_seconds=3600, now=NOW)

    assert [u.child_id for u in parsed.updates] == ["c-1", "c-1"]
    assert [(r.index, r.raw["child_id"]) for r in parsed.rejected] == [(1, "c-2")]
    assert "[1].observed_at:" in parsed.rejected[0].reason and "ahead of now" in parsed.rejected[0].reason
