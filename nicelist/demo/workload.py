"""The demo's story: a quiet baseline, the 23 December spike, quiet again.

Updates come from ``producers.synthetic`` (many children, a few updated very often, GPS pings
and status flips, some arriving out of order) with a handful of invalid ones the API must reject.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from producers.synthetic import generate

QUIET_RATE_FRACTION = 0.5  # quiet phases enqueue at half the table's capacity
INVALID_EVERY = 500


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


def night_updates(count: int, children: int, seed: int) -> list[dict[str, Any]]:
    """The night's updates (``producers.synthetic``), one in 500 broken as producers really break them."""
    return generate(count, children=children, seed=seed, invalid=max(1, count // INVALID_EVERY))


# Bodies a careless producer could put straight into SQS, bypassing the API: the writer must
# dead-letter them with a reason and carry on.
MALFORMED_MESSAGES = [
    '{"kind": "status", "child_id": "c-broken"',
    '{"v": 2, "updates": []}',
    '{"v": 1, "updates": [{"kind": "status", "child_id": "c-000001", "status": "nice", '
    '"observed_at": "2026-12-23T17:00:00Z"}, {"kind": "location", "child_id": "c-000002", "lat": 95, '
    '"lon": 0, "observed_at": "2026-12-23T17:00:00Z"}]}',
]
