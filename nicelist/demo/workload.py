"""The demo's story: a quiet baseline, the 23 December spike, quiet again.

Updates are generated the way producers send them on the night: many children, a few updated
many times, GPS pings and status flips, each observed a little before it is sent (so delivery
order is not observation order), and a handful of invalid ones that the API must reject.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

QUIET_RATE_FRACTION = 0.5  # quiet phases enqueue at half the table's capacity


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    updates: int
    rate: float  # updates per second

    @property
    def seconds(self) -> float:
        return self.updates / self.rate


def story(total: int, capacity: float, spike_factor: float, units_per_update: float) -> list[Phase]:
    """Split ``total`` updates into baseline (10 %), spike (80 %) and tail (10 %).

    Rates are set in updates per second so that the *write units* they cause are
    ``QUIET_RATE_FRACTION`` x capacity in the quiet phases and ``spike_factor`` x capacity in the spike.
    """
    quiet = max(1.0, capacity * QUIET_RATE_FRACTION / units_per_update)
    spike = max(1.0, capacity * spike_factor / units_per_update)
    baseline = max(1, total // 10)
    tail = max(1, total // 10)
    return [
        Phase("baseline", baseline, quiet),
        Phase("spike", max(1, total - baseline - tail), spike),
        Phase("tail", tail, quiet),
    ]


@dataclass(frozen=True, slots=True)
class Generator:
    """Seeded, so a run can be repeated exactly."""

    children: int
    seed: int = 23
    location_share: float = 0.7
    invalid_every: int = 500  # one invalid update in this many

    def updates(self, count: int, start: datetime | None = None) -> list[dict[str, Any]]:
        rng = random.Random(self.seed)
        start = start or datetime(2026, 12, 23, 18, 0, tzinfo=UTC)
        made = []
        for index in range(count):
            if self.invalid_every and index % self.invalid_every == self.invalid_every - 1:
                made.append(_invalid(rng, index))
                continue
            # Observed up to 30 s before its turn to be sent: arrival order != observation order.
            observed = start + timedelta(seconds=index * 0.01 - rng.uniform(0, 30))
            made.append(self._valid(rng, observed))
        return made

    def _valid(self, rng: random.Random, observed: datetime) -> dict[str, Any]:
        # A skewed choice: low ids are the busy children (trackers pinging every few seconds).
        child = f"c-{int(self.children * rng.random() ** 2):06d}"
        at = observed.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if rng.random() < self.location_share:
            return {
                "kind": "location",
                "child_id": child,
                "lat": round(rng.uniform(-60, 70), 5),
                "lon": round(rng.uniform(-180, 180), 5),
                "accuracy_m": round(rng.uniform(3, 50), 1),
                "observed_at": at,
            }
        status = rng.choice(["naughty", "nice"])
        return {"kind": "status", "child_id": child, "status": status, "observed_at": at}


def _invalid(rng: random.Random, index: int) -> dict[str, Any]:
    """One of the mistakes producers really make."""
    at = "2026-12-23T18:00:00Z"
    child = f"c-{index}"
    mistakes: list[dict[str, Any]] = [
        {"kind": "location", "child_id": child, "lat": 123.4, "lon": 0.0, "observed_at": at},  # lat > 90
        {"kind": "status", "child_id": child, "status": "nice", "observed_at": at[:-1]},  # no timezone
        {"kind": "status", "child_id": "has spaces", "status": "nice", "observed_at": at},
        {"kind": "status", "child_id": child, "status": "good", "observed_at": at},  # not naughty|nice
        {"kind": "location", "child_id": child, "lat": 1.0, "lon": 2.0, "observed_at": at, "speed": 3},
    ]
    return rng.choice(mistakes)


# Bodies a careless producer could put straight into SQS, bypassing the API: the writer must
# dead-letter them with a reason and carry on.
MALFORMED_MESSAGES = [
    '{"kind": "status", "child_id": "c-broken"',
    '{"v": 2, "updates": []}',
    '{"v": 1, "updates": [{"kind": "status", "child_id": "c-000001", "status": "nice", '
    '"observed_at": "2026-12-23T17:00:00Z"}, {"kind": "location", "child_id": "c-000002", "lat": 95, '
    '"lon": 0, "observed_at": "2026-12-23T17:00:00Z"}]}',
]
MALFORMED_VALID_UPDATES = 1  # the third message's first update is valid and must be written
