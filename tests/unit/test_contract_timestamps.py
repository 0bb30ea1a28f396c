"""``observed_at`` follows RFC 3339 ``date-time`` exactly, with three documented restrictions.

GIVEN a string built from the parts of an RFC 3339 timestamp (valid, or a near miss: other
separators, basic format, week dates, minutes only, ``+0100``, Unicode digits, ...), WHEN the
contract reads it, THEN it is accepted iff an independent RFC 3339 validator (``rfc3339-validator``
from PyPI) accepts it AND the restrictions hold: at most six fractional digits, no leap second,
representable in UTC. The published OpenAPI ``pattern`` is checked against the same strings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rfc3339_validator import validate_rfc3339

from contract.updates import OBSERVED_AT_PATTERN, InvalidUpdate, parse_update

UPPER_T_Z = str.maketrans({"t": "T", "z": "Z"})


def rfc3339(text: str) -> bool:
    """The validator, corrected for two quirks of its regex that are not RFC 3339's rules.

    It is case-sensitive, but RFC 3339 section 5.6 allows "t" and "z"; and its ``$`` also matches
    before a final newline. (It refuses :60 and year 0000 on its own, as we do.)
    """
    return "\n" not in text and validate_rfc3339(text.translate(UPPER_T_Z))


def restrictions_hold(text: str) -> bool:
    """Our documented restrictions, computed without our parser (for RFC 3339-valid text only)."""
    fraction = re.search(r"\.([0-9]+)", text)
    if fraction and len(fraction.group(1)) > 6:
        return False
    if text[17:19] == "60":
        return False
    try:
        datetime.fromisoformat(text.translate(UPPER_T_Z)).astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


def ours(text: Any) -> str | None:
    """The stored form, or None when the contract refuses the timestamp (and only it)."""
    update = {"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": text}
    try:
        return parse_update(update).observed_at
    except InvalidUpdate as invalid:
        assert [e.field for e in invalid.errors] == ["observed_at"]
        return None


def refusal(text: str) -> str:
    with pytest.raises(InvalidUpdate) as caught:
        parse_update({"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": text})
    return caught.value.errors[0].message


def number(width: int, low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:0{width}d}")


def pick(*choices: Any) -> st.SearchStrategy[Any]:
    """The first choice is valid and drawn most often; the others are near misses."""
    first, *rest = choices
    return st.one_of(first, first, first, *rest) if rest else first


offsets = pick(
    st.sampled_from(["Z", "z"])
    | st.builds("{}{}:{}".format, st.sampled_from("+-"), number(2, 0, 23), number(2, 0, 59)),
    st.builds("{}{}:{}".format, st.sampled_from("+-"), number(2, 0, 25), number(2, 0, 61)),
    st.sampled_from(["", "+0100", "+01", "-0530", "UTC", "+1:00", "Z+01:00", " Z", "+01:00:00"]),
)
fractions = pick(
    st.just("") | st.integers(1, 6).flatmap(lambda n: number(n, 0, 10**n - 1).map(lambda digits: "." + digits)),
    st.integers(7, 12).flatmap(lambda n: number(n, 0, 10**n - 1).map(lambda digits: "." + digits)),
    st.sampled_from([".", ",5", ".5.5"]),
)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    date_sep = draw(pick(st.just("-"), st.sampled_from(["", "/", "."])))
    time_sep = draw(pick(st.just(":"), st.sampled_from(["", "."])))
    date = draw(pick(number(4, 0, 9999), st.sampled_from(["26", "+2026", "20261", "2026-W52", "2026-357"])))
    month_day = draw(pick(st.tuples(number(2, 1, 12), number(2, 1, 31)), st.tuples(number(2, 0, 13), number(2, 0, 32))))
    hms = draw(pick(st.tuples(number(2, 0, 23), number(2, 0, 59), number(2, 0, 59)), st.tuples(
        number(2, 0, 25), number(2, 0, 61), number(2, 0, 61) | st.just("60") | st.just("")
    )))  # fmt: skip
    separator = draw(pick(st.sampled_from("Tt"), st.sampled_from([" ", "_", "", "TT"])))
    clock = time_sep.join(part for part in hms if part)
    text = f"{date}{date_sep}{date_sep.join(month_day)}{separator}{clock}{draw(fractions)}{draw(offsets)}"
    return draw(pick(st.just(text), mutated(text)))


def mutated(text: str) -> st.SearchStrategy[str]:
    """One edit of a character: what a typo, a bad encoder or a trailing newline does."""
    where = st.integers(0, max(0, len(text) - 1))
    odd = st.sampled_from(["\u0663", "\uff17", "\n", " ", "\x00", "T", "Z", "-", ":", "9", "\u00b2"])
    return st.one_of(
        st.builds(lambda i, c: text[:i] + c + text[i + 1 :], where, odd),
        st.builds(lambda i, c: text[:i] + c + text[i:], where, odd),
        st.builds(lambda i: text[:i] + text[i + 1 :], where),
        st.just(text + "\n"),
        st.just(text.upper()),
        st.just(text.lower()),
    )


@settings(max_examples=1500)
@given(text=timestamps())
@example("2026-12-23 18:04:05Z")  # the brief's list of what fromisoformat used to accept
@example("20261223T180405Z")
@example("2026-W52-3T18:04:05Z")
@example("2026-12-23T18:04Z")
@example("2026-12-23T18:04:05+0100")
@example("2026-12-23t18:04:05z")
@example("2016-12-31T23:59:60Z")
@example("2026-12-23T18:04:05.1234567Z")
@example("0001-01-01T00:00:00+00:01")
@example("9999-12-31T23:59:59.999999-00:01")
@example("2026-12-23T18:04:05Z\n")
def test_accepted_iff_rfc3339_and_the_restrictions_hold(text: str) -> None:
    expected = rfc3339(text) and restrictions_hold(text)

    assert (ours(text) is not None) == expected


@settings(max_examples=500)
@given(text=timestamps())
def test_the_published_pattern_matches_all_we_accept_and_only_calendar_and_range_lie_beyond_it(text: str) -> None:
    # ECMA-262's "$" (JSON Schema) does not match before a final newline, Python's does: use \Z here.
    matches = re.search(OBSERVED_AT_PATTERN.removesuffix("$") + r"\Z", text) is not None
    stored = ours(text)

    if stored is not None:
        assert matches
    elif matches:
        message = refusal(text)
        assert "is not a calendar date" in message or "is outside the representable range in UTC" in message


@given(moment=st.datetimes(timezones=st.just(UTC)))
def test_every_stored_form_reads_back_as_itself(moment: datetime) -> None:
    stored = ours(f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond:06d}Z")

    assert stored is not None and ours(stored) == stored
    assert re.fullmatch(OBSERVED_AT_PATTERN.strip("^$"), stored)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2026-12-23t18:04:05z", "2026-12-23T18:04:05.000000Z"),
        ("2026-12-23T18:04:05-00:00", "2026-12-23T18:04:05.000000Z"),
        ("2024-02-29T23:30:00.5-01:00", "2024-03-01T00:30:00.500000Z"),
        ("2026-12-23T18:04:05.000001+23:59", "2026-12-22T18:05:05.000001Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_rfc3339_spellings_are_accepted_and_stored_in_utc(given: str, stored: str) -> None:
    assert ours(given) == stored


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("2026-12-23 18:04:05Z", "must be an RFC 3339 date-time"),
        ("20261223T180405Z", "must be an RFC 3339 date-time"),
        ("2026-W52-3T18:04:05Z", "must be an RFC 3339 date-time"),
        ("2026-357T18:04:05Z", "must be an RFC 3339 date-time"),
        ("2026-12-23T18:04Z", "must be an RFC 3339 date-time"),
        ("2026-12-23T18:04:05+0100", "must be an RFC 3339 date-time"),
        ("2026-12-23T18:04:05+01", "must be an RFC 3339 date-time"),
        ("\uff12026-12-23T18:04:05Z", "must be an RFC 3339 date-time"),
        ("2026-12-23T18:04:05Z\n", "must be an RFC 3339 date-time"),
        ("2026-12-23T24:00:00Z", "must be an RFC 3339 date-time"),
        ("2026-12-23T18:04:05", "must carry a timezone"),
        ("2026-12-23T18:04:05.1234567Z", "more than 6 fractional digits"),
        ("2026-12-23T18:04:05.123456000Z", "more than 6 fractional digits"),  # refused, not truncated
        ("2016-12-31T23:59:60Z", "leap second"),
        ("2026-02-29T00:00:00Z", "is not a calendar date"),
        ("2026-04-31T00:00:00Z", "is not a calendar date"),
        ("0000-01-01T00:00:00Z", "is outside the representable range in UTC"),
        ("0001-01-01T00:59:59+01:00", "is outside the representable range in UTC"),
        ("9999-12-31T23:00:00-01:00", "is outside the representable range in UTC"),
    ],
)
def test_refusals_say_which_rule_was_broken(given: str, says: str) -> None:
    assert says in refusal(given)
    assert given not in refusal(given)


def test_the_pattern_is_portable_json_schema_regex() -> None:
    # No Python-only syntax: named groups, \d (Unicode in Python, ASCII in ECMA-262), \Z, flags.
    assert not re.search(r"\(\?P|\\d|\\Z|\(\?[aiLmsux]", OBSERVED_AT_PATTERN)
    assert OBSERVED_AT_PATTERN.startswith("^") and OBSERVED_AT_PATTERN.endswith("$")
