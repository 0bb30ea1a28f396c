"""DynamoDB item sizes and write units, computed the way DynamoDB documents its billing.

Sizes follow "Item sizes and formats" in the DynamoDB developer guide: an item is the sum of
its attribute names (UTF-8 bytes) and values; strings count their UTF-8 bytes, binaries their
raw bytes, numbers about one byte per two significant digits plus one, booleans and nulls one
byte, lists and maps three bytes plus one byte per element, sets the sum of their members.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

UNIT_BYTES = 1024
"""One write unit covers an item of up to 1 KB."""

_CONTAINER_OVERHEAD = 3
_ELEMENT_OVERHEAD = 1
_MAX_NUMBER_BYTES = 21

Item = Mapping[str, Any]
"""An item in DynamoDB JSON: attribute name -> {"S": ...} / {"N": ...} / ..."""


class ItemSizeError(ValueError):
    """A value is not valid DynamoDB JSON, so no size can be given to it."""


def number_size(text: str) -> int:
    """Bytes of a number: one per base-100 digit pair of its mantissa, plus one, plus one if negative.

    DynamoDB stores numbers in base 100 with the pairs aligned on the decimal point (so ``10``,
    ``100`` and ``0.5`` take one pair, ``1.5`` two); leading and trailing zero pairs are trimmed,
    zero is one byte and no number takes more than 21. This is the documented "one byte per two
    significant digits, plus one" made exact, as measured by public item-size calculators.
    """
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ItemSizeError(f"not a number: {text!r}") from exc
    if not value.is_finite():
        raise ItemSizeError(f"not a finite number: {text!r}")
    if value.is_zero():
        return 1
    _, digits, exponent = value.as_tuple()  # not normalize(): it rounds to the context's 28 digits
    assert isinstance(exponent, int)
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    count, exponent = len(digits) - trailing_zeros, exponent + trailing_zeros
    if exponent % 2:  # pad a zero on the right so the lowest pair ends on an even power of ten
        count, exponent = count + 1, exponent - 1
    if (exponent + count - 1) % 2 == 0:  # the leading digit starts a pair of its own
        count += 1
    size = count // 2 + 1 + (1 if value < 0 else 0)
    return min(size, _MAX_NUMBER_BYTES)


def binary_size(encoded: str | bytes) -> int:
    """Bytes of a binary value; the JSON protocol carries it base64-encoded."""
    if isinstance(encoded, bytes):
        return len(encoded)
    try:
        return len(base64.b64decode(encoded, validate=True))
    except ValueError as exc:
        raise ItemSizeError("binary value is not base64") from exc


def _list_size(values: list[Any]) -> int:
    return _CONTAINER_OVERHEAD + sum(_ELEMENT_OVERHEAD + value_size(v) for v in values)


def _map_size(values: Mapping[str, Any]) -> int:
    return _CONTAINER_OVERHEAD + sum(_ELEMENT_OVERHEAD + _attribute_size(k, v) for k, v in values.items())


def _string_size(text: Any) -> int:
    return len(str(text).encode())


_SIZERS: dict[str, Callable[[Any], int]] = {
    "S": _string_size,
    "N": lambda n: number_size(str(n)),
    "B": binary_size,
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
    "SS": lambda members: sum(_string_size(m) for m in members),
    "NS": lambda members: sum(number_size(str(m)) for m in members),
    "BS": lambda members: sum(binary_size(m) for m in members),
    "L": _list_size,
    "M": _map_size,
}


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB JSON (without its name)."""
    if len(value) != 1:
        raise ItemSizeError(f"an attribute value has exactly one type, got {sorted(value)}")
    [(kind, payload)] = value.items()
    sizer = _SIZERS.get(kind)
    if sizer is None:
        raise ItemSizeError(f"unknown attribute type {kind!r}")
    return sizer(payload)


def _attribute_size(name: str, value: Mapping[str, Any]) -> int:
    return len(name.encode()) + value_size(value)


def item_size(item: Item) -> int:
    """Bytes of a whole item: every attribute's name plus its value."""
    return sum(_attribute_size(name, value) for name, value in item.items())


def units_for_size(size: int) -> int:
    """Write units for ``size`` bytes: ceil(size / 1 KB), at least 1."""
    return max(1, math.ceil(size / UNIT_BYTES))


def write_units(item: Item) -> int:
    """Write units one standard write of this item consumes."""
    return units_for_size(item_size(item))
