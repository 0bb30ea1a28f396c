"""The spike's reconciliation: every acknowledged update against what the table shows.

Two ways to read the table, one verdict (``nicelist.demo.verify.Verdict``):

- ``by_scan``: the local stack's table, scanned straight from moto (the demo's own check).
- ``by_query``: a deployed stage's table, read as a client reads it, with
  ``nicelist.reader.ChildReader``: one strongly consistent ``Query`` per child that was sent,
  never a scan (a scan of a production table reads every child, and costs as much).

By query the check compares content, not only revisions: a register must hold the newest
acknowledged update's status, reason and observed_at (or position), and every acknowledged fix
must be in the child's track with the same position.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.updates import LocationUpdate, StatusUpdate, parse_update
from nicelist.demo.verify import AnyUpdate, Expected, Verdict, compare, scan_table
from nicelist.reader import ChildReader, ChildState

Position = tuple[str, float, float, float | None]  # observed_at, lat, lon, accuracy_m


@dataclass(slots=True)
class Acknowledged:
    """Every acknowledged update: the newest per register (``Expected``) and each distinct fix per child."""

    expected: Expected = field(default_factory=Expected)
    fixes: dict[str, dict[str, LocationUpdate]] = field(default_factory=dict)  # child -> revision -> fix
    count: int = 0

    def add(self, update: AnyUpdate) -> None:
        self.expected.add(update)
        self.count += 1
        if isinstance(update, LocationUpdate):
            self.fixes.setdefault(update.child_id, {})[update.revision] = update

    def extend(self, updates: Iterable[AnyUpdate]) -> None:
        for update in updates:
            self.add(update)

    @property
    def children(self) -> list[str]:
        return sorted({child for child, _ in self.expected.registers})

    @classmethod
    def read(cls, path: Path) -> Acknowledged:
        """The locustfile's record (JSON lines), parsed with the contract."""
        acknowledged = cls()
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                acknowledged.add(parse_update(json.loads(line)))
        return acknowledged


def by_scan(dynamodb: Any, table: str, acknowledged: Acknowledged) -> Verdict:
    return compare(acknowledged.expected, scan_table(dynamodb, table))


def read_children(reader: ChildReader, children: list[str], max_workers: int = 8) -> dict[str, ChildState | None]:
    """Each child's registers and whole track: one strongly consistent ``Query`` each (paged as needed).

    Not ``get_many``: that reads at most ``DEFAULT_TRACK_LIMIT`` points, eventually consistent.
    """
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(children) or 1))) as pool:
        states = pool.map(lambda child: reader.get(child, track=True, track_limit=None, consistent=True), children)
        return dict(zip(children, states, strict=True))


def by_query(reader: ChildReader, acknowledged: Acknowledged, *, max_workers: int = 8) -> Verdict:
    """One ``Query`` per child sent, compared field by field with what was acknowledged."""
    states = read_children(reader, acknowledged.children, max_workers)
    correct = missing = wrong = track_missing = 0
    for (child, _), update in acknowledged.expected.registers.items():
        verdict = _register(states.get(child), update)
        correct += verdict == "correct"
        missing += verdict == "missing"
        wrong += verdict == "wrong"
    for child, fixes in acknowledged.fixes.items():
        state = states.get(child)
        held = Counter(_point(p.observed_at, p.lat, p.lon, p.accuracy_m) for p in state.track) if state else Counter()
        wanted = Counter(_point(f.observed_at, f.lat, f.lon, f.accuracy_m) for f in fixes.values())
        track_missing += sum((wanted - held).values())
    return Verdict(
        registers_expected=len(acknowledged.expected.registers),
        registers_correct=correct,
        registers_missing=missing,
        registers_wrong=wrong,
        track_expected=sum(len(fixes) for fixes in acknowledged.fixes.values()),
        track_missing=track_missing,
    )


def _point(observed_at: str, lat: float, lon: float, accuracy_m: float | None) -> Position:
    return observed_at, float(lat), float(lon), None if accuracy_m is None else float(accuracy_m)


def _register(state: ChildState | None, update: AnyUpdate) -> str:
    """'correct', 'missing' or 'wrong' (the table holds another observation than the newest one)."""
    if isinstance(update, StatusUpdate):
        status = state.status if state else None
        if status is None:
            return "missing"
        same = (status.status, status.reason, status.observed_at) == (update.status, update.reason, update.observed_at)
        return "correct" if same else "wrong"
    location = state.location if state else None
    if location is None:
        return "missing"
    held = _point(location.observed_at, location.lat, location.lon, location.accuracy_m)
    return "correct" if held == _point(update.observed_at, update.lat, update.lon, update.accuracy_m) else "wrong"
