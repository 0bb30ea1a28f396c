"""The update and message contract (docs/design.md, "An update" and "An SQS message"): every limit, and the tie rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.updates import (
    InvalidBody,
    InvalidUpdate,
    LocationUpdate,
    StatusUpdate,
    encode_update,
    parse_body,
    parse_update,
)

AT = "2026-12-23T18:04:05.123Z"


def status(**overrides: Any) -> dict[str, Any]:
    return {"kind": "status", "child_id": "c-000042", "status": "naughty", "observed_at": AT, **overrides}


def location(**overrides: Any) -> dict[str, Any]:
    base = {"kind": "location", "child_id": "c-000042", "lat": 51.5072, "lon": -0.1276, "observed_at": AT}
    return {**base, **overrides}


def fields(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidUpdate) as caught:
        parse_update(data)
    return [error.field for error in caught.value.errors]


# --- child_id ---------------------------------------------------------------------------------


@pytest.mark.parametrize("child_id", ["c", "C-0.9_x", "a" * 64, "0"])
def test_child_ids_within_the_pattern_are_accepted(child_id: str) -> None:
    assert parse_update(status(child_id=child_id)).child_id == child_id


@pytest.mark.parametrize("child_id", ["", "a" * 65, "c 1", "c/1", "c#1", "ç-1", "c-1\n", 42, None])
def test_child_ids_outside_the_pattern_are_rejected(child_id: Any) -> None:
    assert fields(status(child_id=child_id)) == ["child_id"]


# --- status and reason ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["naughty", "nice"])
def test_status_is_naughty_or_nice(value: str) -> None:
    assert parse_update(status(status=value)) == StatusUpdate.model_validate(status(status=value))


@pytest.mark.parametrize("value", ["Nice", "good", "", None, 1])
def test_any_other_status_is_rejected(value: Any) -> None:
    assert fields(status(status=value)) == ["status"]


def test_reason_is_optional_and_at_most_280_characters() -> None:
    assert isinstance(parse_update(status()), StatusUpdate)
    long = parse_update(status(reason="é" * 280))  # characters, not bytes
    assert isinstance(long, StatusUpdate) and long.reason == "é" * 280
    assert fields(status(reason="x" * 281)) == ["reason"]
    assert fields(status(reason=7)) == ["reason"]


# --- location ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("lat", "lon"), [(-90, -180), (90, 180), (0, 0), (-90.0, 180.0), (12.5, -0.000001)])
def test_coordinates_on_and_inside_the_bounds_are_accepted(lat: float, lon: float) -> None:
    update = parse_update(location(lat=lat, lon=lon))
    assert isinstance(update, LocationUpdate)
    assert update.lat == pytest.approx(lat) and update.lon == pytest.approx(lon)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lat": 90.0000001}, "lat"),
        ({"lat": -90.5}, "lat"),
        ({"lon": 180.0000001}, "lon"),
        ({"lon": -181}, "lon"),
        ({"lat": float("nan")}, "lat"),
        ({"lon": float("inf")}, "lon"),
        ({"lat": float("-inf")}, "lat"),
        ({"lat": "51.5"}, "lat"),
        ({"lon": True}, "lon"),
        ({"lat": None}, "lat"),
        ({"accuracy_m": -0.1}, "accuracy_m"),
        ({"accuracy_m": "12"}, "accuracy_m"),
        ({"accuracy_m": False}, "accuracy_m"),
        ({"accuracy_m": float("nan")}, "accuracy_m"),
    ],
)
def test_coordinates_must_be_finite_strict_numbers_in_range(overrides: dict[str, Any], field: str) -> None:
    assert fields(location(**overrides)) == [field]


def test_accuracy_is_optional_and_zero_is_allowed() -> None:
    assert parse_update(location()).accuracy_m is None  # type: ignore[union-attr]
    assert parse_update(location(accuracy_m=0)).accuracy_m == 0.0  # type: ignore[union-attr]


def test_a_missing_coordinate_is_named() -> None:
    data = location()
    del data["lon"]
    assert fields(data) == ["lon"]


# --- observed_at ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2026-12-23T18:04:05.123Z", "2026-12-23T18:04:05.123000Z"),
        ("2026-12-23T18:04:05Z", "2026-12-23T18:04:05.000000Z"),
        ("2026-12-23T18:04:05+00:00", "2026-12-23T18:04:05.000000Z"),
        ("2026-12-23T19:04:05.5+01:00", "2026-12-23T18:04:05.500000Z"),
        ("2026-12-24T03:34:05.123456+09:30", "2026-12-23T18:04:05.123456Z"),
        ("2026-12-23T13:04:05-05:00", "2026-12-23T18:04:05.000000Z"),
        ("2027-01-01T00:30:00+01:00", "2026-12-31T23:30:00.000000Z"),
        ("0999-01-01T00:00:00Z", "0999-01-01T00:00:00.000000Z"),
    ],
)
def test_timestamps_are_stored_as_fixed_width_utc_microseconds(given: str, stored: str) -> None:
    update = parse_update(status(observed_at=given))
    assert update.observed_at == stored
    assert len(update.observed_at) == len("2026-12-23T18:04:05.123000Z")


@pytest.mark.parametrize(
    "given",
    [
        "2026-12-23T18:04:05",  # naive: no timezone
        "2026-12-23T18:04:05.123",
        "2026-12-23",
        "yesterday",
        "",
        "2026-13-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        1766513045,  # epoch seconds are not ISO 8601
        None,
    ],
)
def test_naive_malformed_or_unrepresentable_timestamps_are_rejected(given: Any) -> None:
    assert fields(status(observed_at=given)) == ["observed_at"]


def test_naive_timestamp_message_asks_for_a_timezone() -> None:
    with pytest.raises(InvalidUpdate, match="timezone"):
        parse_update(status(observed_at="2026-12-23T18:04:05"))


def test_string_order_of_stored_timestamps_is_time_order() -> None:
    given = ["2026-12-23T18:04:05.1+01:00", "2026-12-23T17:04:05.05Z", "2026-12-23T12:04:05.2-05:00"]
    stored = [parse_update(status(observed_at=at)).observed_at for at in given]
    assert sorted(stored) == [stored[1], stored[0], stored[2]]


# --- unknown fields and kinds -----------------------------------------------------------------


def test_unknown_fields_are_rejected() -> None:
    assert fields(status(mood="grumpy")) == ["mood"]
    assert fields(location(status="nice")) == ["status"]


@pytest.mark.parametrize("kind", ["gift", None, "STATUS"])
def test_an_unknown_or_missing_kind_is_named(kind: Any) -> None:
    data = status(kind=kind) if kind is not None else {k: v for k, v in status().items() if k != "kind"}
    assert fields(data) == ["kind"]


def test_every_problem_is_reported_with_its_field_and_no_input_value() -> None:
    with pytest.raises(InvalidUpdate) as caught:
        parse_update(location(child_id="bad id", lat=123.456, lon="x"), index=3)
    errors = caught.value.errors
    assert sorted(e.field for e in errors) == ["child_id", "lat", "lon"]
    assert {e.index for e in errors} == {3}
    text = str(caught.value)
    assert "[3].lat:" in text and "[3].child_id:" in text
    assert "123.456" not in text and "bad id" not in text
    assert errors[0].as_dict().keys() == {"index", "field", "message"}


def test_encoding_drops_nulls_and_keeps_the_normalized_timestamp() -> None:
    encoded = encode_update(parse_update(status(observed_at="2026-12-23T19:04:05+01:00")))
    assert "reason" not in encoded
    assert encoded["observed_at"] == "2026-12-23T18:04:05.000000Z"
    assert parse_update(encoded) == parse_update(status(observed_at="2026-12-23T18:04:05Z"))


# --- message bodies: bare update or envelope --------------------------------------------------


def test_a_bare_update_body_is_one_unpacked_update() -> None:
    parsed = parse_body(json.dumps(status()))
    assert not parsed.packed and parsed.rejected == []
    assert [u.child_id for u in parsed.updates] == ["c-000042"]


def test_an_envelope_keeps_its_valid_updates_and_lists_the_invalid_ones_by_index() -> None:
    body = json.dumps({"v": 1, "updates": [status(), location(lat=91), status(observed_at="2026-12-23")]})
    parsed = parse_body(body)
    assert parsed.packed
    assert len(parsed.updates) == 1
    assert [(r.index, r.raw) for r in parsed.rejected] == [
        (1, location(lat=91)),
        (2, status(observed_at="2026-12-23")),
    ]
    assert parsed.rejected[0].reason.startswith("[1].lat:")
    assert parsed.rejected[1].reason.startswith("[2].observed_at:")


def test_an_envelope_of_only_invalid_updates_is_still_an_envelope() -> None:
    parsed = parse_body(json.dumps({"v": 1, "updates": [{"kind": "status"}]}))
    assert parsed.updates == [] and len(parsed.rejected) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"kind": "status"', "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"hello"', "must be a JSON object"),
        ("null", "must be a JSON object"),
        ('{"v": 2, "updates": [{}]}', "unknown envelope version 2"),
        ('{"v": "1", "updates": [{}]}', "unknown envelope version str"),
        ('{"v": true, "updates": [{}]}', "unknown envelope version True"),
        ('{"v": 1.0, "updates": [{}]}', "unknown envelope version 1.0"),
        ('{"v": 1}', "non-empty JSON array"),
        ('{"v": 1, "updates": []}', "non-empty JSON array"),
        ('{"v": 1, "updates": {"a": 1}}', "non-empty JSON array"),
        ('{"v": 1, "updates": [], "extra": 1}', "unknown fields: extra"),
        ('{"hello": "world"}', "neither an update"),
        ('{"kind": "status", "child_id": "c-1"}', "invalid update"),
    ],
)
def test_bodies_that_are_no_update_or_envelope_are_invalid(body: str, reason: str) -> None:
    with pytest.raises(InvalidBody, match=reason):
        parse_body(body)


def test_an_invalid_bare_update_names_its_fields() -> None:
    with pytest.raises(InvalidBody) as caught:
        parse_body(json.dumps(location(lat=-91)))
    assert "lat:" in str(caught.value) and "-91" not in str(caught.value)


# --- revision: the total order and the tie rule -----------------------------------------------


def test_a_later_observation_has_a_greater_revision_whatever_its_content() -> None:
    older = parse_update(status(status="nice", observed_at="2026-12-23T18:04:05.999999Z"))
    newer = parse_update(status(status="naughty", observed_at="2026-12-23T18:04:06Z"))
    assert newer.revision > older.revision


def test_same_observed_at_greater_digest_wins_in_both_orders() -> None:
    a = parse_update(status(status="nice"))
    b = parse_update(status(status="naughty"))
    assert a.revision != b.revision
    assert a.revision.split("#")[0] == b.revision.split("#")[0] == "2026-12-23T18:04:05.123000Z"
    winner = max([a, b], key=lambda u: u.revision)
    assert max([b, a], key=lambda u: u.revision) is winner
    digest = {u.revision.split("#")[1]: u for u in (a, b)}
    assert winner is digest[max(digest)]


def test_identical_updates_have_equal_revisions_however_they_were_written() -> None:
    plain = parse_update(location(observed_at="2026-12-23T18:04:05.123Z", accuracy_m=5))
    offset = parse_update(location(observed_at="2026-12-23T19:04:05.123+01:00", accuracy_m=5.0))
    assert plain == offset
    assert plain.revision == offset.revision


def test_revision_depends_on_every_field() -> None:
    base = parse_update(location(accuracy_m=5))
    assert base.revision != parse_update(location(accuracy_m=6)).revision
    assert base.revision != parse_update(location(accuracy_m=5, child_id="c-000043")).revision
    with_reason = parse_update(status(reason="x")).revision
    assert with_reason != parse_update(status()).revision
