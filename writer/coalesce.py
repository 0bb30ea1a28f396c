"""Coalescing: turn a batch of updates into the fewest writes that leave the table correct.

Per child and aspect only the newest update (by revision) is written as state; every distinct
track point is written once. Each write remembers which SQS messages it stands for, so its
outcome (written, or not) decides those messages' fate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from contract.keys import Key, track_key
from contract.updates import LocationUpdate, StatusUpdate

AnyUpdate = StatusUpdate | LocationUpdate


@dataclass(frozen=True, slots=True)
class Tagged:
    """An update and the SQS message it arrived in."""

    update: AnyUpdate
    message_id: str


@dataclass(slots=True)
class PlannedWrite:
    """One table write: the winning update for a key, and every message that depends on it."""

    key: Key
    update: AnyUpdate
    message_ids: set[str] = field(default_factory=set)

    def offer(self, tagged: Tagged) -> None:
        """Keep the newer of the current winner and ``tagged``; remember its message either way."""
        self.message_ids.add(tagged.message_id)
        if tagged.update.revision > self.update.revision:
            self.update = tagged.update


@dataclass(slots=True)
class WritePlan:
    """The writes for one batch, and how many writes coalescing saved."""

    state: list[PlannedWrite]
    track: list[PlannedWrite]
    received: int
    locations: int

    @property
    def writes(self) -> int:
        return len(self.state) + len(self.track)

    @property
    def writes_saved(self) -> int:
        """Against writing every update as it comes (one state write each, one track point per fix)."""
        return self.received + self.locations - self.writes


def plan(updates: Iterable[Tagged]) -> WritePlan:
    """Group by key and keep the newest, in one pass."""
    state: dict[Key, PlannedWrite] = {}
    track: dict[Key, PlannedWrite] = {}
    received = locations = 0
    for tagged in updates:
        received += 1
        update = tagged.update
        _offer(state, (update.child_id, update.aspect), tagged)
        if isinstance(update, LocationUpdate):
            locations += 1
            _offer(track, (update.child_id, track_key(update.revision)), tagged)
    return WritePlan(list(state.values()), list(track.values()), received, locations)


def _offer(writes: dict[Key, PlannedWrite], key: Key, tagged: Tagged) -> None:
    existing = writes.get(key)
    if existing is None:
        writes[key] = PlannedWrite(key, tagged.update, {tagged.message_id})
    else:
        existing.offer(tagged)
