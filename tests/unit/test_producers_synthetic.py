"""The synthetic generator: deterministic, realistic enough, valid unless told otherwise."""

from __future__ import annotations

import doctest
from collections import Counter
from datetime import UTC, datetime

import pytest

import producers.synthetic
from contract.updates import InvalidUpdate, parse_update
from producers.synthetic import generate, inject_invalid


def test_same_seed_same_updates_different_seed_different() -> None:
    assert generate(500, 50, seed=3) == generate(500, 50, seed=3)
    assert generate(500, 50, seed=3) != generate(500, 50, seed=4)


def test_every_generated_update_is_valid_and_the_mix_is_realistic() -> None:
    updates = generate(5000, children=500, seed=1, start=datetime(2026, 12, 24, tzinfo=UTC))

    for update in updates:
        parse_update(update)
    per_child = Counter(u["child_id"] for u in updates)
    kinds = Counter(u["kind"] for u in updates)
    assert len(per_child) > 400 and per_child.most_common(1)[0][1] > 100  # many children, a few busy ones
    assert 0.7 < kinds["location"] / len(updates) < 0.9
    assert all(u["observed_at"].startswith("2026-12-2") for u in updates)
    observed = [u["observed_at"] for u in updates]
    assert observed != sorted(observed)  # some arrive late


def test_injected_invalid_updates_are_rejected_by_the_contract() -> None:
    updates = generate(200, 20, seed=5)
    broken = inject_invalid(updates, 30, seed := 9)
    assert seed == 9 and len(broken) == 30
    for index, update in enumerate(updates):
        if index in broken:
            with pytest.raises(InvalidUpdate):
                parse_update(update)
        else:
            parse_update(update)


def test_docstring_example_runs() -> None:
    assert doctest.testmod(producers.synthetic).failed == 0
