"""``nicelist demo`` exits 0 when nothing that should be kept was lost (the README's --compare example)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from nicelist.demo.command import verdict_ok


def report(mode: str, ok: bool) -> Any:
    return SimpleNamespace(mode=mode, ok=ok)


def test_compare_succeeds_when_only_the_direct_half_lost_updates() -> None:
    assert verdict_ok([report("direct", False), report("buffered", True)], compare=True)


def test_compare_fails_when_the_buffered_half_lost_updates() -> None:
    assert not verdict_ok([report("direct", False), report("buffered", False)], compare=True)


def test_direct_alone_fails_because_it_loses_by_design() -> None:
    assert not verdict_ok([report("direct", False)], compare=False)
    assert verdict_ok([report("buffered", True)], compare=False)
