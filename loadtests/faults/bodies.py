"""Malformed SQS bodies, as careless or broken producers write them straight to the queue.

Each ``Poison`` names its case and carries the valid updates it holds (an envelope that mixes valid
and invalid updates must still get its valid ones written). Sizes stay within what SQS itself
accepts (1 MiB per message), because anything larger never reaches the writer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contract.envelope import compact, encode_envelope

DEEP = 100_000  # far beyond Python's recursion limit (json.loads raises RecursionError past ~1,000)
SQS_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Poison:
    case: str
    label: str
    body: str
    valid: list[dict[str, Any]] = field(default_factory=list)


def _status(rng: random.Random, child: str) -> dict[str, Any]:
    second = rng.randrange(0, 3600)
    return {
        "kind": "status",
        "child_id": child,
        "status": rng.choice(["naughty", "nice"]),
        "observed_at": f"2026-12-23T17:{second // 60:02d}:{second % 60:02d}Z",
    }


def _broken(rng: random.Random, child: str) -> dict[str, Any]:
    """One invalid update, broken one of many ways the contract refuses."""
    update = _status(rng, child)
    breakage: list[Callable[[dict[str, Any]], None]] = [
        lambda u: u.update(status="meh"),
        lambda u: u.update(child_id=12345),
        lambda u: u.update(child_id="x" * 65),
        lambda u: u.update(observed_at="2026-12-23T18:04:05"),
        lambda u: u.update(observed_at="yesterday"),
        lambda u: u.update(kind="teleport"),
        lambda u: u.update(colour="red"),
        lambda u: u.update(reason="r" * 281),
        lambda u: u.pop("observed_at"),
        lambda u: u.update(kind="location", lat="51.5", lon=0),
        lambda u: u.update(kind="location", lat=95, lon=0),
        lambda u: u.update(kind="location", lat=1, lon=True),
        lambda u: u.update(kind="location", lat=1, lon=2, accuracy_m=-1),
    ]
    rng.choice(breakage)(update)
    return update


def _bad_json(rng: random.Random, child: str) -> list[Poison]:
    good = compact(_status(rng, child))
    bodies = [good[: rng.randrange(5, len(good) - 1)], good + "}", good.replace('"', "'"), " ", "{", "nul",
              '{"kind": "status", "child_id": "c-1",}', good + "\n" + good]  # fmt: skip
    return [Poison("bad-json", "bad JSON", body) for body in bodies]


def _not_an_object(rng: random.Random, child: str) -> list[Poison]:
    bodies = ["[1, 2, 3]", '"an update"', "42", "null", "true", "[]", json.dumps([_status(rng, child)])]
    return [Poison("not-an-object", "JSON, but not an object", body) for body in bodies]


def _location_with(child: str, lat: str) -> str:
    rest = ', "lon": 0, "observed_at": "2026-12-23T17:00:00Z"}'
    return '{"kind": "location", "child_id": "' + child + '", "lat": ' + lat + rest


def _wrong_types(rng: random.Random, child: str) -> list[Poison]:
    bodies = [compact(_broken(rng, child)) for _ in range(8)]
    base = compact(_status(rng, child))[1:-1]
    bodies += [
        _location_with(child, "NaN"),  # json.loads takes NaN; the contract must refuse it
        _location_with(child, "1e999"),  # and infinity
        "{" + base + ', "status": "grumpy"}',  # a duplicate key: the last one wins, and it is invalid
        json.dumps({**_status(rng, child), "child_id": "c-\u0000-nul"}),
        json.dumps({"child_id": child, "status": "nice"}),  # no kind: neither update nor envelope
        '{"kind": "status", "child_id": ' + "[" * 500 + "]" * 500 + "}",  # nested, but parseable
    ]
    return [Poison("wrong-types", "wrong types or values", body) for body in bodies]


def _envelopes(rng: random.Random, child: str) -> list[Poison]:
    update = _status(rng, child)
    bodies = [{"v": 2, "updates": [update]}, {"v": "1", "updates": [update]}, {"v": 1.0, "updates": [update]},
              {"v": True, "updates": [update]}, {"v": None, "updates": [update]}, {"v": 1}, {"v": 1, "updates": []},
              {"v": 1, "updates": {"0": update}}, {"v": 1, "updates": [update], "sender": "me"}]  # fmt: skip
    return [Poison("envelope", "unknown or malformed envelope", json.dumps(body)) for body in bodies]


def _mixed(rng: random.Random, children: list[str]) -> list[Poison]:
    poisons = []
    for _ in range(4):
        valid = [_status(rng, rng.choice(children)) for _ in range(rng.randrange(1, 15))]
        invalid: list[Any] = [_broken(rng, rng.choice(children)) for _ in range(rng.randrange(1, 15))]
        invalid += rng.sample([None, 7, "update", [], {}], 2)
        entries = valid + invalid
        rng.shuffle(entries)
        poisons.append(Poison("mixed", "valid and invalid updates in one envelope", encode_envelope(entries), valid))
    return poisons


def _huge(rng: random.Random, children: list[str]) -> list[Poison]:
    """Near SQS's limit: a bad-JSON body, and envelopes of invalid updates whose dead letters grow."""
    valid = [_status(rng, rng.choice(children))]
    big_reason = [{**_status(rng, rng.choice(children)), "reason": "x" * 3_000} for _ in range(280)]
    accented = [{**_status(rng, rng.choice(children)), "reason": "é" * 2_000} for _ in range(100)]
    many = [_broken(rng, rng.choice(children)) for _ in range(2_000)]
    return [
        Poison("huge", "huge: bad JSON near 1 MiB", '{"v": 1, "updates": [' + "1," * 499_000),
        Poison("huge", "huge: invalid updates near 900 KB, one valid", encode_envelope(valid + big_reason), valid),
        Poison("huge", "huge: 400 KB of invalid non-ASCII updates", _utf8_envelope(accented)),
        Poison("huge", "huge: 2,000 invalid updates", encode_envelope(many)),
    ]


def _utf8_envelope(updates: list[dict[str, Any]]) -> str:
    """An envelope as a producer that does not escape non-ASCII writes it (``ensure_ascii=False``)."""
    return json.dumps({"v": 1, "updates": updates}, ensure_ascii=False, separators=(",", ":"))


def _deep(rng: random.Random, child: str) -> list[Poison]:
    nested_array = '{"v": 1, "updates": [' + "[" * DEEP + "]" * DEEP + "]}"
    nested_object = '{"kind": "status", "child_id": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}"
    return [Poison("deep-nesting", "deeply nested", body) for body in (nested_array, nested_object)]


CASES = ("bad-json", "not-an-object", "wrong-types", "envelope", "mixed", "huge", "deep-nesting")


def generate(rng: random.Random, children: list[str], rounds: int, skip: frozenset[str] = frozenset()) -> list[Poison]:
    """``rounds`` of every case (the huge and deep ones once: they are few and slow), shuffled."""
    poisons: list[Poison] = []
    for index in range(rounds):
        child = rng.choice(children)
        poisons += _bad_json(rng, child) + _not_an_object(rng, child) + _wrong_types(rng, child)
        poisons += _envelopes(rng, child) + _mixed(rng, children)
        if index == 0:
            poisons += _huge(rng, children) + _deep(rng, child)
    poisons = [p for p in poisons if p.case not in skip and len(p.body.encode()) <= SQS_LIMIT]
    rng.shuffle(poisons)
    return poisons
