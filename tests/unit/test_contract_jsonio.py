"""The strict JSON reader both the API and the writer use (docs/design.md, "An update").

GIVEN any text, WHEN ``contract.jsonio.loads`` reads it, THEN it returns exactly what ``json.loads``
would for plain JSON, and for everything else raises ``BadJson`` and nothing else: duplicate keys,
NaN and infinities, numbers out of range, nesting past ``MAX_DEPTH``, unpaired surrogates.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.jsonio import MAX_DEPTH, BadJson, loads, loads_utf8

# Plain JSON values: what any JSON library reads the same way.
keys = st.text(max_size=8).filter(lambda k: not any("\ud800" <= c <= "\udfff" for c in k))
plain_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
plain_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | plain_text
)
plain_values = st.recursive(
    plain_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
MARKER = st.from_regex(r"\AZ[0-9]{10}Q\Z")


def nest(inner: str, wrappers: list[bool]) -> str:
    """``inner`` inside arrays (True) and objects (False), outermost first."""
    for in_array in reversed(wrappers):
        inner = f"[{inner}]" if in_array else f'{{"k":{inner}}}'
    return inner


def rejected(text: str) -> str:
    with pytest.raises(BadJson) as caught:
        loads(text)
    return str(caught.value)


@settings(max_examples=300)
@given(text=st.text(max_size=60))
def test_any_text_is_a_value_or_bad_json_and_nothing_else(text: str) -> None:
    with contextlib.suppress(BadJson):
        loads(text)


@settings(max_examples=200)
@given(value=plain_values)
def test_plain_json_reads_as_the_standard_library_reads_it(value: Any) -> None:
    text = json.dumps(value)
    assert loads(text) == json.loads(text)
    assert loads_utf8(text.encode()) == json.loads(text)


@given(
    key=keys,
    first=plain_scalars,
    second=plain_scalars,
    wrappers=st.lists(st.booleans(), max_size=5),
    spacing=st.sampled_from(["", " ", "\n\t"]),
)
def test_a_duplicate_key_in_any_object_at_any_depth_is_bad_json(
    key: str, first: Any, second: Any, wrappers: list[bool], spacing: str
) -> None:
    k = json.dumps(key)
    duplicated = f"{{{k}:{json.dumps(first)},{spacing}{k}{spacing}:{json.dumps(second)}}}"

    message = rejected(nest(duplicated, wrappers))

    assert "duplicate key" in message


def test_the_same_key_in_sibling_objects_is_fine() -> None:
    assert loads('[{"a": 1}, {"a": 2}, {"b": {"a": 3}, "a": 4}]') == [{"a": 1}, {"a": 2}, {"b": {"a": 3}, "a": 4}]


def test_keys_that_differ_only_by_escapes_are_still_duplicates() -> None:
    assert "duplicate key" in rejected('{"a": 1, "\\u0061": 2}')


@given(
    constant=st.sampled_from(["NaN", "Infinity", "-Infinity"]),
    wrappers=st.lists(st.booleans(), max_size=5),
)
def test_nan_and_infinities_are_bad_json_anywhere(constant: str, wrappers: list[bool]) -> None:
    assert rejected(nest(constant, wrappers)) == f"{constant} is not valid JSON"


@given(
    exponent=st.integers(309, 10**6),
    sign=st.sampled_from(["", "-"]),
    wrappers=st.lists(st.booleans(), max_size=3),
)
def test_a_number_too_large_for_a_double_is_bad_json_not_infinity(
    exponent: int, sign: str, wrappers: list[bool]
) -> None:
    assert "out of range" in rejected(nest(f"{sign}1e{exponent}", wrappers))


def test_tiny_numbers_underflow_to_zero_as_doubles_do() -> None:
    assert loads("1e-400") == 0.0


@pytest.mark.parametrize("digits", [sys.get_int_max_str_digits() + 1, 5000, 100_000, 1024 * 1024 - 2])
def test_integers_over_pythons_digit_limit_are_bad_json(digits: int) -> None:
    assert "digits" in rejected("[" + "9" * digits + "]")


def test_integers_up_to_the_digit_limit_are_read_exactly() -> None:
    text = "7" * sys.get_int_max_str_digits()
    assert loads(text) == int(text)


def test_long_decimal_fractions_are_read_as_doubles() -> None:
    assert math.isclose(loads("0." + "3" * 100_000), 1 / 3)


TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, MAX_DEPTH + 10, 900, 5000, 100_000])
@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")])
def test_nesting_deeper_than_the_limit_is_bad_json_whatever_the_stack(levels: int, opener: str, closer: str) -> None:
    assert rejected(opener * levels + "0" + closer * levels) == TOO_DEEP
    rejected(opener * levels)  # unterminated: bad JSON too, whichever fault is found first


def test_a_mebibyte_of_open_brackets_is_bad_json() -> None:
    assert rejected("[" * 1024 * 1024) == TOO_DEEP


def test_nesting_up_to_the_limit_is_read() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads('{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH) is not None


@pytest.mark.parametrize(
    "text",
    ['"\\ud800"', '"\\udfff"', '["a\\ud83d"]', '{"\\udc00": 1}', '"\\ude00\\ud83d"', '"\ud800"', '{"a\udc00": 0}'],
)
def test_unpaired_surrogates_are_bad_json_escaped_or_raw(text: str) -> None:
    assert "surrogate" in rejected(text)


def test_a_surrogate_pair_is_one_character() -> None:
    assert loads('"\\ud83d\\ude00"') == "\U0001f600"


@given(wrappers=st.lists(st.booleans(), max_size=5), high=st.integers(0xD800, 0xDFFF))
def test_an_unpaired_surrogate_at_any_depth_is_bad_json(wrappers: list[bool], high: int) -> None:
    assert "surrogate" in rejected(nest(f'"x\\u{high:04x}"', wrappers))


@pytest.mark.parametrize("data", [b"\xff{}", b'"\xed\xa0\x80"', b"\xc3", b'{"a": "\x80"}'])
def test_bytes_that_are_not_utf8_are_bad_json(data: bytes) -> None:
    with pytest.raises(BadJson, match="UTF-8"):
        loads_utf8(data)


@settings(max_examples=200)
@given(
    marker=MARKER,
    template=st.sampled_from(
        [
            '{{"{m}": 1, "{m}": 2}}',
            '{{"a": "{m}", "a": 0}}',
            '{{"kind": "{m}"',
            '["{m}", NaN]',
            "{m}",
            '"{m}\\ud800"',
            '[1e999, "{m}"]',
            '{{"{m}": ' + "1" * 5000 + "}}",
            "[" * 40 + '"{m}"',
            '"\\{m}"',
        ]
    ),
)
def test_messages_never_echo_the_input(marker: str, template: str) -> None:
    assert marker not in rejected(template.format(m=marker))


def test_bad_json_is_a_value_error() -> None:
    assert issubclass(BadJson, ValueError)
