"""The one strict JSON reader of the API's request bodies and the writer's SQS messages.

The API and the writer must never read one text two ways: a body the API accepted must mean the
same to the writer, and what the writer would refuse the API must refuse first. ``json.loads``
alone is lenient in ways that break this: it keeps the last of duplicate keys (another reader may
keep the first), reads ``NaN``/``Infinity`` and turns ``1e400`` into infinity (neither can be
written back as JSON), passes unpaired surrogates through (not Unicode, so not storable), and
nests as deep as the caller's remaining stack allows (so the same text parses in a shallow thread
and fails in a deep one). Here all of that is refused, with a fixed nesting limit, and every
failure of the JSON layer is one exception, ``BadJson``, whose message never quotes the input.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

# An update is an object (1), an API batch an array of them (2), an envelope an object holding an
# array of them (3). Far more than any contract shape, far less than Python's recursion limit.
MAX_DEPTH = 32
_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"
_SURROGATE = re.compile("[\ud800-\udfff]")
# json's own messages are fixed phrases; the pure-Python fallback appends the offending character.
_PHRASE = re.compile(r"[A-Za-z\\ ',:()-]+")


class BadJson(ValueError):
    """The text is not strict JSON.

    The message is a short reason ("a duplicate key in one object", "Expecting value at position 7")
    for the caller to put after its own words; it says why and where, never what the text holds.
    """


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise BadJson("a duplicate key in one object")
    return found


def _constant(name: str) -> Any:
    raise BadJson(f"{name} is not valid JSON")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson("a number out of range for a double")
    return value


def _reason(error: json.JSONDecodeError) -> str:
    phrase = error.msg.partition(": ")[0]
    phrase = phrase if _PHRASE.fullmatch(phrase) else "malformed JSON"
    return f"{phrase} at position {error.pos}"


def _check(value: Any) -> None:
    """Depth and Unicode of every string, without recursion: this runs on hostile input."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise BadJson("a string with an unpaired surrogate (not Unicode text)")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth >= MAX_DEPTH:
            raise BadJson(_TOO_DEEP)
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children)


def loads(text: str) -> Any:
    """Decode one JSON text strictly; raise ``BadJson``, and nothing else, for anything else."""
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)
    except BadJson:
        raise
    except json.JSONDecodeError as error:
        raise BadJson(_reason(error)) from None
    except RecursionError:
        raise BadJson(_TOO_DEEP) from None
    except ValueError:  # int() past sys.get_int_max_str_digits()
        limit = sys.get_int_max_str_digits()
        raise BadJson(f"an integer of more than {limit} digits") from None
    except Exception:  # the contract is "only BadJson"; nothing else is known to reach here
        raise BadJson("unreadable") from None
    _check(value)
    return value


def loads_utf8(data: bytes) -> Any:
    """``loads`` for bytes off the wire: UTF-8 only (RFC 8259), no byte order mark."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJson("not UTF-8 text") from None
    return loads(text)
