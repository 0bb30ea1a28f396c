"""Whatever a message body holds, the writer's parser answers with a ``ParsedBody`` or ``InvalidBody``.

An exception of any other class would fail the writer's whole batch instead of dead-lettering one
message, so ``parse_body`` must be total over ``str``: GIVEN any text up to 1 MiB, WHEN it is parsed,
THEN the result is a ``ParsedBody`` or an ``InvalidBody``. Likewise ``parse_update`` raises only
``InvalidUpdate`` for any decoded JSON value.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.updates import InvalidBody, InvalidUpdate, ParsedBody, parse_body, parse_update

AT = "2026-12-23T18:04:05Z"
GOOD = {"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": AT}
MIB = 1024 * 1024

# Any JSON value Python can hold, including what strict JSON refuses: NaN, infinities, huge
# integers, unpaired surrogates; the encoder below writes them as Python's json would.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**4000)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["status", "location", "nice", "naughty", AT, "c-1"])
)
field_names = st.sampled_from(["kind", "child_id", "observed_at", "status", "reason", "lat", "lon", "v", "updates"])
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(field_names | st.text(max_size=6), inner, max_size=5),
    max_leaves=16,
)


@st.composite
def near_updates(draw: st.DrawFn) -> dict[str, Any]:
    """A valid update with some fields replaced by arbitrary values, some dropped, some added."""
    update: dict[str, Any] = dict(GOOD) if draw(st.booleans()) else {
        "kind": "location", "child_id": "c-2", "lat": 1.5, "lon": 2.5, "observed_at": AT,
    }  # fmt: skip
    for name in draw(st.lists(field_names, max_size=3)):
        update[name] = draw(values)
    for name in draw(st.lists(st.sampled_from(sorted(update)), max_size=2)):
        update.pop(name, None)
    return update


def dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


# What generated values rarely reach: deep nesting, long digit runs, out-of-range exponents,
# NaN, duplicate keys and unpaired surrogates, each placed where an update or a field would go.
openers = st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"k":', "}]")])
fragments = st.one_of(
    st.builds(
        lambda o, n, closed: o[0] * n + ("0" + o[1] * n if closed else ""),
        openers,
        st.integers(1, 150_000),
        st.booleans(),
    ),
    st.builds(lambda sign, n: sign + "9" * n, st.sampled_from(["", "-"]), st.integers(1, 20_000)),
    st.builds(lambda n: f"1e{n}", st.integers(-2000, 2000)),
    st.sampled_from(["NaN", "Infinity", "-Infinity", '"\\ud800"', '"a\\udfffb"', '{"a":1,"a":2}', '"\\ud83d\\ude00"']),
    values.map(dumps),
)
places = st.sampled_from([
    "{}", "[{}]", '{{"v":1,"updates":[{}]}}', '{{"v":{},"updates":[{{}}]}}',
    '{{"kind":"status","child_id":"c-1","status":"nice","observed_at":"' + AT + '","reason":{}}}',
    '{{"kind":"location","child_id":"c-1","lat":{},"lon":0,"observed_at":"' + AT + '"}}',
    '{{"v":1,"updates":[{{"kind":"status","child_id":"c-1","status":"nice","observed_at":"' + AT + '","x":{}}}]}}',
])  # fmt: skip
hostile = st.builds(lambda place, fragment: place.format(fragment), places, fragments)

bodies = st.one_of(
    hostile,
    st.text(max_size=200),
    values.map(dumps),
    near_updates().map(dumps),
    st.lists(near_updates() | values, max_size=6).map(lambda items: dumps({"v": 1, "updates": items})),
    st.dictionaries(field_names, values, max_size=4).map(dumps),
)


def outcome(body: str, **options: Any) -> ParsedBody | InvalidBody:
    """The parse result, or the ``InvalidBody`` it raised; any other exception fails the test."""
    try:
        return parse_body(body, **options)
    except InvalidBody as invalid:
        return invalid


@settings(max_examples=400)
@given(body=bodies)
def test_any_text_is_a_parsed_body_or_invalid_body(body: str) -> None:
    result = outcome(body)

    if isinstance(result, ParsedBody):
        data = json.loads(body)
        count = len(data["updates"]) if result.packed else 1
        assert len(result.updates) + len(result.rejected) == count


@settings(max_examples=200)
@given(value=values | near_updates())
def test_parse_update_on_any_json_value_raises_only_invalid_update(value: Any) -> None:
    try:
        parse_update(value)
    except InvalidUpdate as invalid:
        assert invalid.errors


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 100_000, "nested deeper"),
        ('{"v": 1, "updates": [' + "[" * 100_000, "nested deeper"),
        ('{"kind": "status", "reason": ' + "[" * 100 + "]" * 100 + "}", "nested deeper"),
        ("{" * MIB, "not valid JSON"),
        ("[" * MIB, "nested deeper"),
        ("9" * (sys.get_int_max_str_digits() + 1), "digits"),
        ('{"v": 1, "updates": [' + "1" * (MIB - 30) + "]}", "digits"),
        ('{"kind": "location", "lat": 1e400}', "out of range"),
        ('{"kind": "location", "lat": NaN}', "not valid JSON"),
        ('{"kind": "status", "kind": "location"}', "duplicate key"),
        ('{"v": 1, "updates": [{"kind": "status"}], "v": 1}', "duplicate key"),
        ('{"v": 1, "updates": [{"a": 1, "a": 1}]}', "duplicate key"),
        ('{"kind": "status", "reason": "\\ud800"}', "surrogate"),
        ('{"v": 1, "updates": [{"\\udfff": 0}]}', "surrogate"),
        (" " * MIB, "not valid JSON"),
        ("\ufeff{}", "not valid JSON"),
    ],
)
def test_hostile_bodies_are_invalid_bodies(body: str, reason: str) -> None:
    with pytest.raises(InvalidBody, match=reason):
        parse_body(body)


def test_a_mebibyte_envelope_of_valid_updates_is_read() -> None:
    update = json.dumps(GOOD)
    count = (MIB - 30) // (len(update) + 1)
    body = '{"v":1,"updates":[' + ",".join([update] * count) + "]}"
    assert len(body) <= MIB

    assert len(parse_body(body).updates) == count


@pytest.mark.parametrize("digits", [20, 4300])
def test_an_unknown_version_is_not_echoed_when_it_is_long(digits: int) -> None:
    with pytest.raises(InvalidBody) as caught:
        parse_body('{"v": ' + "7" * digits + ', "updates": [{}]}')
    assert "7" * 17 not in str(caught.value)


def test_the_reason_of_a_status_must_be_valid_unicode() -> None:
    # The SDK validates Python strings, which may hold what strict JSON refuses: it must refuse it too.
    with pytest.raises(InvalidUpdate) as caught:
        parse_update({**GOOD, "reason": "broken \ud83d"})
    assert [error.field for error in caught.value.errors] == ["reason"]
