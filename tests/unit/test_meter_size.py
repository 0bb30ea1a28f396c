"""Item sizes and write units, the way DynamoDB bills them."""

from __future__ import annotations

import base64

import pytest

from nicelist.local.meter.size import ItemSizeError, item_size, number_size, value_size, write_units


@pytest.mark.parametrize(
    ("number", "size"),
    [
        ("0", 1),
        ("-0.000", 1),
        ("1", 2),
        ("10", 2),  # one base-100 pair
        ("100", 2),
        ("1000", 2),
        ("123", 3),  # 1|23
        ("1.5", 3),  # 01|50: pairs align on the decimal point
        ("0.5", 2),
        ("0.05", 2),
        ("51.5072", 4),  # 51|50|72
        ("0012.50", 3),  # leading and trailing zeros are not significant
        ("-1", 3),  # negatives take one more byte
        ("-1E-130", 3),
        ("1" * 38, 20),
        ("-" + "9" * 38, 21),  # never more than 21
    ],
)
def test_number_size(number: str, size: int) -> None:
    assert number_size(number) == size


def test_strings_count_utf8_bytes_and_binaries_raw_bytes() -> None:
    assert value_size({"S": "naughty"}) == 7
    assert value_size({"S": "élan"}) == 5
    assert value_size({"B": base64.b64encode(b"\x00" * 10).decode()}) == 10
    assert value_size({"BOOL": True}) == 1
    assert value_size({"NULL": True}) == 1


def test_sets_are_the_sum_of_their_members() -> None:
    assert value_size({"SS": ["ab", "cde"]}) == 5
    assert value_size({"NS": ["1", "123"]}) == 2 + 3
    assert value_size({"BS": [base64.b64encode(b"xy").decode()]}) == 2


def test_lists_and_maps_take_three_bytes_plus_one_per_element() -> None:
    assert value_size({"L": []}) == 3
    assert value_size({"M": {}}) == 3
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    # map elements also count their names
    assert value_size({"M": {"lat": {"N": "1"}, "tags": {"L": [{"S": "x"}]}}}) == 3 + (1 + 3 + 2) + (1 + 4 + 3 + 1 + 1)


def test_an_item_is_its_names_plus_its_values() -> None:
    item = {"child_id": {"S": "c-000042"}, "sk": {"S": "STATUS"}, "lat": {"N": "51.5072"}}
    assert item_size(item) == (8 + 8) + (2 + 6) + (3 + 4)


@pytest.mark.parametrize(("payload", "units"), [(0, 1), (1000, 1), (1015, 1), (1016, 2), (2039, 2), (2040, 3)])
def test_write_units_round_up_per_kilobyte(payload: int, units: int) -> None:
    # the "pk" attribute (8 bytes) and the name "k" (1 byte): 9 bytes besides the payload
    item = {"pk": {"S": "abcdef"}, "k": {"S": "x" * payload}} if payload else {"pk": {"S": "abcdef"}}
    assert write_units(item) == units


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ItemSizeError):
        value_size({"S": "a", "N": "1"})
    with pytest.raises(ItemSizeError):
        value_size({"X": "1"})
    with pytest.raises(ItemSizeError):
        number_size("NaN")
    with pytest.raises(ItemSizeError):
        number_size("twelve")
