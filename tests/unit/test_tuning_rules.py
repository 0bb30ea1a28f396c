"""The rules ``nicelist tune`` refuses to break and ``nicelist doctor`` reports (nicelist/tuning/rules.py),
and what a request makes of a stage's tuning (nicelist/tuning/model.py)."""

from __future__ import annotations

import dataclasses

import pytest

from nicelist.findings import checks_of
from nicelist.tuning.model import (
    LiveStage,
    Pollers,
    StageFacts,
    StageTuning,
    TuneError,
    TuneRequest,
    request_errors,
    target_of,
)
from nicelist.tuning.rules import tuning_findings

FACTS = StageFacts("dev", deployed=True, writer_timeout=60, cache_seconds=5, table_capacity=100,
                   visibility_timeout=360, backlog=0, mapping_ids=("uuid-1",))  # fmt: skip
SOUND = StageTuning(reserved=4, maximum=4, writer_concurrency=4, write_rate=97, batch_size=10, batching_window=0)


def test_a_sound_tuning_has_no_findings() -> None:
    assert tuning_findings(SOUND, FACTS) == []


@pytest.mark.parametrize(
    ("change", "facts", "expected"),
    [
        ({"maximum": 5}, {}, ["maximum-above-reserved"]),  # min(4, 5) = 4 run: C = 4 holds
        ({"maximum": 1, "writer_concurrency": 1}, {}, ["maximum-out-of-range"]),
        ({"maximum": None}, {}, ["maximum-missing"]),
        ({"reserved": None}, {}, ["reserved-missing"]),
        ({"writer_concurrency": 2}, {}, ["writer-concurrency"]),
        ({"writer_concurrency": 8}, {}, ["writer-concurrency"]),
        ({"write_rate": 150}, {}, ["write-rate-above-capacity"]),
        ({"write_rate": None}, {}, ["write-rate-missing"]),
        ({"batch_size": 50, "batching_window": 0}, {}, ["batching-window-zero"]),
        ({"batch_size": 20_000, "batching_window": 1}, {}, ["batching-out-of-range", "visibility-short"]),
        ({"batch_size": 50, "batching_window": 2}, {}, ["visibility-short"]),
        ({"batching_window": 0.5}, {}, ["batching-window-fraction", "visibility-short"]),
        ({}, {"visibility_timeout": 300}, ["visibility-short"]),
        ({}, {"mapping_ids": ()}, ["mapping-missing"]),
        ({}, {"mapping_ids": ("a", "b")}, ["mapping-several"]),
        ({"pollers": Pollers(2, 3), "maximum": None, "reserved": 20, "writer_concurrency": 20}, {},
         ["pollers-above-reserved"]),
        ({"pollers": Pollers(1, 3), "maximum": None, "reserved": 30, "writer_concurrency": 30}, {},
         ["pollers-out-of-range"]),
        ({"pollers": Pollers(2, 2), "reserved": 20, "writer_concurrency": 20}, {}, ["scaling-modes-both"]),
    ],
)  # fmt: skip
def test_each_rule(change: dict[str, object], facts: dict[str, object], expected: list[str]) -> None:
    tuning = dataclasses.replace(SOUND, **change)  # type: ignore[arg-type]
    findings = tuning_findings(tuning, dataclasses.replace(FACTS, **facts))  # type: ignore[arg-type]
    assert checks_of(findings) == expected
    assert all(finding.fix for finding in findings)


def test_force_allows_a_rate_above_capacity_and_nothing_else() -> None:
    tuning = dataclasses.replace(SOUND, write_rate=150, maximum=5)
    assert checks_of(tuning_findings(tuning, FACTS, force=True)) == ["maximum-above-reserved"]


def test_the_local_runtime_may_be_unreserved_and_has_no_mapping_ids() -> None:
    local = dataclasses.replace(FACTS, stage="local", deployed=False, mapping_ids=())
    assert tuning_findings(dataclasses.replace(SOUND, reserved=None), local) == []


def test_a_visibility_finding_says_which_writer_timeout_fixes_it() -> None:
    tuning = dataclasses.replace(SOUND, batch_size=50, batching_window=2)
    (finding,) = tuning_findings(tuning, FACTS)
    assert "360 s < 362 s" in finding.problem
    assert finding.fix.startswith("nicelist provision --stage dev --writer-timeout 61")


def test_concurrency_sets_reserved_maximum_and_c() -> None:
    target = target_of(SOUND, TuneRequest(concurrency=7))
    assert (target.reserved, target.maximum, target.writer_concurrency) == (7, 7, 7)
    roomy = target_of(SOUND, TuneRequest(concurrency=3, reserved=6))
    assert (roomy.reserved, roomy.maximum, roomy.writer_concurrency) == (6, 3, 3)


def test_pollers_make_c_follow_reserved() -> None:
    target = target_of(SOUND, TuneRequest(pollers=Pollers(2, 4), reserved=40))
    assert (target.maximum, target.pollers, target.writer_concurrency) == (None, Pollers(2, 4), 40)


def test_requests_that_mean_nothing_are_usage_errors() -> None:
    live = LiveStage(SOUND, FACTS)
    polled = LiveStage(dataclasses.replace(SOUND, maximum=None, pollers=Pollers(2, 2)), FACTS)
    local = LiveStage(SOUND, dataclasses.replace(FACTS, deployed=False))
    assert request_errors(TuneRequest(pollers=Pollers(2, 2), concurrency=3), live)
    assert request_errors(TuneRequest(pollers_off=True), polled)
    assert request_errors(TuneRequest(concurrency=3), polled)
    assert request_errors(TuneRequest(pollers_off=True, concurrency=3), polled) == []
    assert request_errors(TuneRequest(pollers=Pollers(2, 2)), local)
    assert request_errors(TuneRequest(unreserved=True), live)
    assert request_errors(TuneRequest(unreserved=True), local) == []


@pytest.mark.parametrize("text", ["2", "a:b", "2:", ""])
def test_pollers_parse_min_max(text: str) -> None:
    assert Pollers.parse("2:20") == Pollers(2, 20)
    with pytest.raises(TuneError):
        Pollers.parse(text)
