"""Coalescing a batch into the fewest writes, and what each table item costs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from contract.updates import LocationUpdate, StatusUpdate, parse_update
from writer.coalesce import Tagged, plan
from writer.items import item_size, state_item, track_item, write_units

WRITTEN_AT = "2026-12-23T18:30:00.000000Z"


def st(child: str, second: int, value: str = "nice", **extra: Any) -> StatusUpdate:
    data = {
        "kind": "status",
        "child_id": child,
        "status": value,
        "observed_at": f"2026-12-23T18:00:{second:02d}Z",
    }
    update = parse_update({**data, **extra})
    assert isinstance(update, StatusUpdate)
    return update


def loc(child: str, second: int, lat: float = 51.5, **extra: Any) -> LocationUpdate:
    data = {"kind": "location", "child_id": child, "lat": lat, "lon": -0.12}
    update = parse_update({**data, "observed_at": f"2026-12-23T18:00:{second:02d}Z", **extra})
    assert isinstance(update, LocationUpdate)
    return update


# --- plan -------------------------------------------------------------------------------------


def test_the_newest_update_per_child_and_aspect_is_kept_whatever_the_order() -> None:
    updates = [
        Tagged(st("a", 5, "nice"), "m1"),
        Tagged(loc("a", 7, lat=7.0), "m1"),
        Tagged(st("a", 9, "naughty"), "m2"),
        Tagged(loc("a", 3, lat=3.0), "m2"),
        Tagged(st("b", 1), "m3"),
        Tagged(st("a", 2, "nice"), "m3"),
    ]
    for order in (updates, list(reversed(updates))):
        work = plan(order)
        state = {w.key: w for w in work.state}
        assert set(state) == {("a", "STATUS"), ("a", "LOCATION"), ("b", "STATUS")}
        assert state[("a", "STATUS")].update == st("a", 9, "naughty")
        assert state[("a", "LOCATION")].update == loc("a", 7, lat=7.0)
        # every message whose update competed for the key depends on the write
        assert state[("a", "STATUS")].message_ids == {"m1", "m2", "m3"}
        assert state[("a", "LOCATION")].message_ids == {"m1", "m2"}
        assert state[("b", "STATUS")].message_ids == {"m3"}


def test_a_tie_on_observed_at_resolves_the_same_in_every_order() -> None:
    nice, naughty = st("a", 5, "nice"), st("a", 5, "naughty")
    winner = max(nice, naughty, key=lambda u: u.revision)
    assert plan([Tagged(nice, "m1"), Tagged(naughty, "m2")]).state[0].update == winner
    assert plan([Tagged(naughty, "m2"), Tagged(nice, "m1")]).state[0].update == winner


def test_every_distinct_track_point_is_written_once() -> None:
    updates = [
        Tagged(loc("a", 1), "m1"),
        Tagged(loc("a", 2), "m1"),
        Tagged(loc("a", 1), "m2"),  # the same fix, delivered twice
        Tagged(loc("b", 1), "m2"),
        Tagged(st("a", 4), "m3"),  # statuses leave no track
    ]
    work = plan(updates)
    tracks = {w.key: w for w in work.track}
    assert set(tracks) == {
        ("a", f"LOC#{loc('a', 1).revision}"),
        ("a", f"LOC#{loc('a', 2).revision}"),
        ("b", f"LOC#{loc('b', 1).revision}"),
    }
    assert tracks[("a", f"LOC#{loc('a', 1).revision}")].message_ids == {"m1", "m2"}


def test_two_different_fixes_at_one_instant_are_both_kept_in_the_track() -> None:
    here, there = loc("a", 1, lat=1.0), loc("a", 1, lat=2.0)
    for order in ([here, there], [there, here]):
        work = plan(Tagged(u, f"m{i}") for i, u in enumerate(order))
        assert {w.update for w in work.track} == {here, there}


def test_writes_saved_counts_against_one_write_per_update_and_per_fix() -> None:
    updates = [Tagged(loc("a", s), f"m{s}") for s in range(10)] + [Tagged(st("a", s), "s") for s in range(5)]
    work = plan(updates)
    assert work.received == 15 and work.locations == 10
    assert work.writes == 2 + 10  # two registers, ten distinct track points
    assert work.writes_saved == 15 + 10 - 12


def test_duplicates_save_track_writes_too() -> None:
    work = plan([Tagged(loc("a", 1), "m1"), Tagged(loc("a", 1), "m2")])
    assert (work.writes, work.writes_saved) == (2, 2)


def test_an_empty_batch_plans_nothing() -> None:
    work = plan([])
    assert (work.state, work.track, work.writes, work.writes_saved) == ([], [], 0, 0)


# --- items and write units --------------------------------------------------------------------


def test_state_items_carry_the_revision_and_no_empty_optionals() -> None:
    item = state_item(st("a", 1), WRITTEN_AT)
    assert item["sk"] == {"S": "STATUS"}
    assert item["rev"] == {"S": st("a", 1).revision}
    assert "reason" not in item
    located = state_item(loc("a", 1, accuracy_m=12.5), WRITTEN_AT)
    assert located["sk"] == {"S": "LOCATION"}
    assert located["accuracy_m"] == {"N": "12.5"}


def test_track_items_expire_retention_days_after_the_observation() -> None:
    item = track_item(loc("a", 1), WRITTEN_AT, retention_days=30)
    assert item["sk"]["S"].startswith("LOC#2026-12-23T18:00:01.000000Z#")
    assert item["sk"] == {"S": f"LOC#{loc('a', 1).revision}"}
    observed = datetime(2026, 12, 23, 18, 0, 1, tzinfo=UTC).timestamp()
    assert int(item["expires_at"]["N"]) == int(observed) + 30 * 86_400


def test_item_size_counts_names_utf8_strings_and_numbers() -> None:
    assert item_size({"ab": {"S": "é"}}) == 2 + 2
    assert item_size({"n": {"N": "12345"}}) == 1 + 3 + 1
    with pytest.raises(ValueError):
        item_size({"b": {"B": b"x"}})


def test_a_small_update_costs_one_write_unit() -> None:
    assert write_units(state_item(st("c-000042", 1, reason="x" * 280), WRITTEN_AT)) == 1
    assert write_units(track_item(loc("c-000042", 1, accuracy_m=3.5), WRITTEN_AT, 30)) == 1


def test_a_280_character_multibyte_reason_costs_two_write_units() -> None:
    reason = "🎄" * 280  # 4 bytes each in UTF-8: 1,120 bytes for the reason alone
    item = state_item(st("c-000042", 1, reason=reason), WRITTEN_AT)
    assert item_size(item) > 1024
    assert write_units(item) == 2
