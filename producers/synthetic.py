"""A realistic, seedable mix of updates for demos, load tests and ``nicelist send --generate``.

Many children, a few of them updated very often (Zipf-like popularity), GPS pings that
walk around a home position, naughty/nice flips, timestamps that mostly advance with a
few arriving out of order. Deterministic for a given seed::

    >>> from producers.synthetic import generate
    >>> updates = generate(1000, children=200, seed=7)
    >>> len(updates), updates == generate(1000, children=200, seed=7)
    (1000, True)
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_START = datetime(2026, 12, 23, 18, 0, tzinfo=UTC)
REASONS = [
    "ate the cookies early",
    "shared toys with a sibling",
    "tidied the room unasked",
    "peeked at presents",
    "helped a neighbour",
    "drew on the walls",
    None,
    None,
]


@dataclass(slots=True)
class _Child:
    child_id: str
    lat: float
    lon: float
    status: str


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _children(count: int, rng: random.Random) -> list[_Child]:
    return [
        _Child(f"c-{k:06d}", rng.uniform(-45, 65), rng.uniform(-180, 180), rng.choice(["naughty", "nice"]))
        for k in range(1, count + 1)
    ]


def _location(child: _Child, rng: random.Random, observed_at: str) -> dict[str, Any]:
    child.lat = max(-90.0, min(90.0, child.lat + rng.gauss(0, 0.002)))
    child.lon = ((child.lon + rng.gauss(0, 0.002) + 180) % 360) - 180
    update: dict[str, Any] = {
        "kind": "location",
        "child_id": child.child_id,
        "lat": round(child.lat, 6),
        "lon": round(child.lon, 6),
        "observed_at": observed_at,
    }
    if rng.random() < 0.8:
        update["accuracy_m"] = round(rng.uniform(3, 50), 1)
    return update


def _status(child: _Child, rng: random.Random, observed_at: str) -> dict[str, Any]:
    if rng.random() < 0.5:
        child.status = "nice" if child.status == "naughty" else "naughty"
    update: dict[str, Any] = {
        "kind": "status",
        "child_id": child.child_id,
        "status": child.status,
        "observed_at": observed_at,
    }
    reason = rng.choice(REASONS)
    if reason:
        update["reason"] = reason
    return update


def generate(
    n: int,
    children: int = 1000,
    seed: int | None = 0,
    start: datetime | None = None,
    *,
    invalid: int = 0,
    span: timedelta = timedelta(minutes=10),
    location_share: float = 0.8,
) -> list[dict[str, Any]]:
    """``n`` updates about ``children`` children over ``span`` from ``start`` (JSON-ready dicts).

    About 5% of timestamps step back up to a minute (late arrivals). ``invalid`` of them are
    then broken on purpose (see ``inject_invalid``), for demos of the 422/DLQ paths.
    """
    rng = random.Random(seed)
    start = start or DEFAULT_START
    pool = _children(max(1, children), rng)
    weights = list(itertools.accumulate(1 / (rank**1.1) for rank in range(1, len(pool) + 1)))
    updates: list[dict[str, Any]] = []
    for index in range(n):
        if rng.random() < 0.6:  # most traffic spread over everyone, the rest on a few busy children
            child = rng.choice(pool)
        else:
            child = pool[bisect.bisect_left(weights, rng.random() * weights[-1])]
        moment = start + span * (index / max(1, n)) + timedelta(seconds=rng.uniform(0, 1))
        if rng.random() < 0.05:
            moment -= timedelta(seconds=rng.uniform(1, 60))
        make = _location if rng.random() < location_share else _status
        updates.append(make(child, rng, _iso(moment)))
    if invalid:
        inject_invalid(updates, invalid, rng)
    return updates


_BREAKAGES: list[Callable[[dict[str, Any]], None]] = [
    lambda u: u.update(child_id="not a valid id!"),
    lambda u: u.pop("observed_at"),
    lambda u: u.update(observed_at="2026-12-23T18:04:05"),  # no timezone
    lambda u: u.update(colour="red"),  # unknown field
    lambda u: u.update(kind="mood"),
    lambda u: u.update(lat=123.0) if u["kind"] == "location" else u.update(status="grumpy"),
]


def inject_invalid(updates: list[dict[str, Any]], count: int, rng: random.Random | int | None = 0) -> list[int]:
    """Break ``count`` updates in place, each in one way the contract rejects; return their indexes."""
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    chosen = sorted(rng.sample(range(len(updates)), min(count, len(updates))))
    for index in chosen:
        rng.choice(_BREAKAGES)(updates[index])
    return chosen
