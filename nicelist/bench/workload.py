"""The benchmark's seeded workload: what both ways are given, update for update.

Every child sends a GPS fix every 10 s and on about one tick in five flips its status instead; the
distinct updates are delivered shuffled with 2 % duplicates (arrival order is not observation order).
The writer gets them as the SDK packs them, 1,000-update envelopes, 10 envelopes per SQS batch; the
naive producer sends each as its own message.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contract.envelope import encode_envelope
from contract.updates import parse_update
from nicelist.demo.verify import Expected

START = datetime(2026, 12, 23, 18, 0, tzinfo=UTC)
ENVELOPE_UPDATES = 1_000
BATCH_MESSAGES = 10
DUPLICATES = 0.02
Batch = list[str]  # the message bodies of one invocation


@dataclass(frozen=True, slots=True)
class Workload:
    distinct: list[dict[str, Any]]
    stream: list[dict[str, Any]]  # delivery order, duplicates included
    children: int
    seed: int

    @property
    def expected(self) -> Expected:
        """The newest update per child and aspect, and every track point: what the table must show."""
        expected = Expected()
        expected.extend(parse_update(raw) for raw in self.distinct)
        return expected


def workload(updates: int, children: int, seed: int) -> Workload:
    """``updates`` delivered about ``children`` children: a shuffle of the distinct ones plus duplicates."""
    rng = random.Random(seed)
    extra = int(updates * DUPLICATES)
    wanted = updates - extra
    distinct: list[dict[str, Any]] = []
    for child in range(children):
        count = wanted // children + (1 if child < wanted % children else 0)
        distinct.extend(_timeline(rng, f"c-{child:06d}", count))
    stream = distinct + rng.choices(distinct, k=extra) if distinct else []
    rng.shuffle(stream)
    return Workload(distinct, stream, children, seed)


def _timeline(rng: random.Random, child_id: str, count: int) -> Iterator[dict[str, Any]]:
    offset = rng.uniform(0, 10)
    lat, lon, verdict = rng.uniform(-60, 70), rng.uniform(-180, 180), rng.choice(["naughty", "nice"])
    for tick in range(count):
        at = (START + timedelta(seconds=offset + 10 * tick)).isoformat().replace("+00:00", "Z")
        if rng.random() < 0.2:
            verdict = "nice" if verdict == "naughty" else "naughty"
            yield {"kind": "status", "child_id": child_id, "status": verdict, "observed_at": at}
        else:
            lat = max(-90.0, min(90.0, lat + rng.uniform(-0.01, 0.01)))
            fix = {"lat": round(lat, 6), "lon": round(lon, 6), "accuracy_m": round(rng.uniform(3, 30), 1)}
            yield {"kind": "location", "child_id": child_id, "observed_at": at, **fix}


def batches(stream: Sequence[dict[str, Any]]) -> list[Batch]:
    """The stream as the writer receives it: envelopes of 1,000, ten to an invocation."""
    envelopes = [encode_envelope(stream[i : i + ENVELOPE_UPDATES]) for i in range(0, len(stream), ENVELOPE_UPDATES)]
    return [envelopes[i : i + BATCH_MESSAGES] for i in range(0, len(envelopes), BATCH_MESSAGES)]


def minimum_units(batched: Sequence[Batch]) -> int:
    """The least any consumer can spend without reading the table first: one unit per distinct
    child·aspect per batch (a conditional put is charged even when its condition fails), plus one
    per distinct track point (every item here is under 1 KB)."""
    total, points = 0, set()
    for batch in batched:
        keys = set()
        for body in batch:
            for raw in json.loads(body)["updates"]:
                update = parse_update(raw)
                keys.add((update.child_id, update.aspect))
                if update.aspect == "LOCATION":
                    points.add((update.child_id, update.observed_at))
        total += len(keys)
    return total + len(points)
