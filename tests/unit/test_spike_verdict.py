"""The spike's pass/fail rule (``loadtests/verdict.py``): every way a run fails is named, a clean run passes."""

from __future__ import annotations

import dataclasses

import pytest

from loadtests.verdict import Facts, Thresholds, problems, writers_peak

CLEAN = Facts(
    acknowledged=5000,
    lost=0,
    requests=200,
    failures=0,
    p95_ms=700.0,
    capacity=100.0,
    writers_peak=97.0,
    drain_ratio=1.1,
)
STRICT = Thresholds(max_p95_ms=1000, max_drain_ratio=1.5)


def second(units: int, throttled: int = 0) -> dict[str, int]:
    return {"second": 0, "units": units, "throttled_units": throttled, "requests": 1, "throttle_events": 0}


def test_a_clean_run_passes() -> None:
    assert problems(CLEAN, STRICT) == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"lost": 1}, "LOST 1 acknowledged update"),
        ({"acknowledged": 0}, "nothing was acknowledged"),
        ({"drained": False}, "did not drain"),
        ({"dlq_depth": 2}, "2 message(s) reached the DLQ"),
        ({"unexpected_answers": 3}, "3 request(s) got an answer other than the expected one"),
        ({"accepted_mismatch": 5}, "'accepted' counts differ"),
        ({"failures": 1}, "failure ratio 0.0050 (1/200) > --max-failure-ratio 0"),
        ({"p95_ms": 1000.5}, "p95 1000.5 ms > --max-p95-ms 1000"),
        ({"writers_peak": 100.5}, "writers' peak 100.5 WCU/s = 1.00 x capacity 100 (limit 1.00 x)"),
        ({"drain_ratio": 4.17}, "drain took 4.17 x ideal > --max-drain-ratio 1.5"),
        ({"locust_exit": 1}, "Locust exited 1"),
    ],
)
def test_each_failure_is_named_in_one_plain_sentence(change: dict[str, object], says: str) -> None:
    found = problems(dataclasses.replace(CLEAN, **change), STRICT)  # type: ignore[arg-type]

    assert len(found) == 1 and says in found[0]


def test_thresholds_can_be_loosened() -> None:
    facts = dataclasses.replace(CLEAN, failures=2, p95_ms=5000.0, writers_peak=120.0, drain_ratio=3.0)

    assert len(problems(facts, STRICT)) == 4
    assert problems(facts, Thresholds(max_failure_ratio=0.01, max_p95_ms=None, max_peak_ratio=1.25)) == []


def test_without_a_meter_the_peak_is_not_judged() -> None:
    assert problems(dataclasses.replace(CLEAN, capacity=None, writers_peak=None), Thresholds()) == []


def test_the_writers_peak_counts_throttled_units_and_averages_over_the_window() -> None:
    # a meter that never admits more than 100 a second still shows writers sending 300
    series = [second(100, 200), second(100, 0), second(50), second(0)]

    assert writers_peak(series) == 300
    assert writers_peak(series, window=2) == 200
    assert writers_peak(series, window=10) == 450 / 4  # a window longer than the run: the whole run
    assert writers_peak([]) == 0


@pytest.mark.parametrize(
    "bad", [{"max_failure_ratio": -0.1}, {"max_p95_ms": 0}, {"max_peak_ratio": 0}, {"max_drain_ratio": 0.9}]
)
def test_nonsense_thresholds_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Thresholds(**bad)
