"""The autoscaler's decisions (nicelist/tuning/autoscale.py), one rule at a time, then over random
signal sequences (hypothesis): the bounds always hold, a constant signal never makes C flap, and C never
goes up while the table throttles."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from nicelist.tuning.autoscale import Autoscaler, Decision, Policy, Signals

POLICY = Policy(minimum=2, maximum=16, drain_target=60, idle_for=30, cooldown=20)
# A backlog that grows, half the budget spent, every execution busy: the case for a raise.
PRESSED = Signals(
    at=0, concurrency=2, backlog=500, budget=100, measured_rate=50, throttles=0, busy=2, drain_seconds=600
)
IDLE = Signals(at=0, concurrency=8, backlog=0, budget=100, measured_rate=0, throttles=0, busy=0, busy_window=60)


def decide(signals: Signals, policy: Policy = POLICY) -> Decision:
    return Autoscaler(policy).decide(signals)


def test_a_backlog_with_the_budget_unspent_raises_to_what_would_spend_w() -> None:
    decision = decide(PRESSED)
    assert (decision.action, decision.after) == ("raise", 4)  # 2 x 100 / 50 = 4
    assert decide(dataclasses.replace(PRESSED, measured_rate=90)).action == "hold"  # 90 >= 0.8 x W: spent
    # at most doubling, at least one more
    assert decide(dataclasses.replace(PRESSED, measured_rate=1)).after == 4
    assert decide(dataclasses.replace(PRESSED, concurrency=10, busy=10, measured_rate=75)).after == 14
    assert decide(dataclasses.replace(PRESSED, concurrency=15, busy=15, measured_rate=10)).after == 16  # --max


def test_each_blocker_of_a_raise_holds_alone() -> None:
    for blocked, reason in [
        (dataclasses.replace(PRESSED, throttles=1), "throttle"),
        (dataclasses.replace(PRESSED, measured_rate=None), "unknown"),
        (dataclasses.replace(PRESSED, busy=0.5), "idle"),
        (dataclasses.replace(PRESSED, concurrency=16, busy=16), "--max"),
        (dataclasses.replace(PRESSED, drain_seconds=30), "<= target"),
        (dataclasses.replace(PRESSED, backlog=0), "queue empty"),
    ]:
        decision = decide(blocked)
        assert decision.action == "hold", (reason, decision)
        assert reason in " ".join(decision.reasons)


def test_a_raise_stops_where_a_full_batch_no_longer_fits_one_invocation() -> None:
    # W 100 WCU/s, a 30 s timeout: the writer writes for 30 - 9.5 s (its deadline margin), 90 % of that
    # counted, 1,845 WCU per invocation at C = 1. A full batch of 10 messages x 20 updates x 1.375 WCU
    # is 275 WCU: it fits at W / 6 (307 WCU), not at W / 7 (263).
    fitting = dataclasses.replace(PRESSED, measured_rate=10, batch_units=10 * 20 * 1.375, timeout=30)
    assert decide(fitting).after == 4  # doubling from 2 is within the fit
    assert decide(dataclasses.replace(fitting, concurrency=4, busy=4)).after == 6  # not 8
    held = decide(dataclasses.replace(fitting, concurrency=6, busy=6))
    assert held.action == "hold" and "fits one 30 s invocation only up to C 6" in " ".join(held.reasons)
    # unknown batch or timeout: no cap from this rule
    assert decide(dataclasses.replace(fitting, concurrency=6, busy=6, batch_units=None)).after == 12


def test_the_trend_decides_pressure_once_there_is_one() -> None:
    scaler = Autoscaler(dataclasses.replace(POLICY, cooldown=0))
    # falling 100 messages/s from 500: empty in about 5 s at that pace, well inside the target
    steps = [scaler.decide(dataclasses.replace(PRESSED, at=t, backlog=500 - 100 * t)) for t in (0, 1, 2)]
    assert [step.action for step in steps] == ["raise", "hold", "hold"]
    assert "at its pace" in " ".join(steps[-1].reasons)


def test_idle_for_long_enough_halves_c() -> None:
    assert (decide(IDLE).action, decide(IDLE).after) == ("lower", 4)
    assert decide(dataclasses.replace(IDLE, concurrency=3)).after == 2
    assert decide(dataclasses.replace(IDLE, concurrency=2)).action == "hold"  # at --min
    # an instant's reading (the local runtime's) needs idle_for seconds of them without a break
    scaler = Autoscaler(POLICY)
    instants = [dataclasses.replace(IDLE, at=t, busy=0, busy_window=0) for t in (0, 10, 20, 30)]
    assert [scaler.decide(s).action for s in instants] == ["hold", "hold", "hold", "lower"]
    scaler = Autoscaler(POLICY)
    busy_once = [
        dataclasses.replace(IDLE, at=t, busy_window=0, measured_rate=100, backlog=50 * (t == 20), busy=8 * (t == 20))
        for t in (0, 10, 20, 30, 40)
    ]
    assert [scaler.decide(s).action for s in busy_once] == ["hold"] * 5  # the run starts again at 30


def test_only_new_throttles_hold_a_raise() -> None:
    scaler = Autoscaler(dataclasses.replace(POLICY, cooldown=0))
    counts = [0, 2, 2, 1, 3]  # a five-minute window: the same count again is no new throttle
    steps = [scaler.decide(dataclasses.replace(PRESSED, at=t, backlog=500, throttles=n)) for t, n in enumerate(counts)]
    assert [step.action for step in steps] == ["raise", "hold", "raise", "raise", "hold"]


def test_the_cooldown_holds_after_a_change() -> None:
    scaler = Autoscaler(POLICY)
    assert scaler.decide(PRESSED).action == "raise"
    scaler.changed(0)
    pressed = dataclasses.replace(PRESSED, at=10, concurrency=4, busy=4)
    assert scaler.decide(pressed).action == "hold"
    assert scaler.decide(dataclasses.replace(pressed, at=20)).action == "raise"


def test_a_c_outside_the_bounds_comes_inside_at_once() -> None:
    assert (decide(dataclasses.replace(IDLE, concurrency=1)).after) == 2
    assert (decide(dataclasses.replace(PRESSED, concurrency=40, busy=40)).after) == 16


# -- over sequences of signals ---------------------------------------------------------------------

maybe = st.none() | st.floats(0, 200)
readings = st.builds(
    Signals,
    at=st.just(0.0),
    concurrency=st.just(0),
    backlog=st.none() | st.integers(0, 10_000),
    budget=st.none() | st.floats(1, 200),
    measured_rate=maybe,
    throttles=st.none() | st.integers(0, 5),
    busy=st.none() | st.floats(0, 40),
    busy_window=st.sampled_from([0.0, 60.0, 300.0]),
    drain_seconds=st.none() | st.floats(0, 10_000),
)
policies = st.builds(
    Policy,
    minimum=st.integers(2, 6),
    maximum=st.integers(6, 40),
    drain_target=st.floats(1, 1000),
    idle_for=st.floats(0, 100),
    cooldown=st.floats(0, 100),
)


def run(policy: Policy, start: int, signals: list[Signals], interval: float = 10.0) -> list[tuple[int, Decision]]:
    """Every decision applied at once, as ``nicelist tune --auto`` does: (C before, decision)."""
    scaler, c, seen = Autoscaler(policy), start, []
    for index, reading in enumerate(signals):
        at = index * interval
        decision = scaler.decide(dataclasses.replace(reading, at=at, concurrency=c))
        seen.append((c, decision))
        if decision.after != c:
            scaler.changed(at)
            c = decision.after
    return seen


@given(policies, st.integers(1, 60), st.lists(readings, min_size=1, max_size=30))
def test_the_bounds_always_hold(policy: Policy, start: int, signals: list[Signals]) -> None:
    for _, decision in run(policy, start, signals)[1:]:
        assert policy.minimum <= decision.before <= policy.maximum
    for before, decision in run(policy, start, signals):
        assert policy.minimum <= decision.after <= policy.maximum
        assert decision.before == before


@given(policies, st.integers(2, 40), readings)
def test_a_constant_signal_never_flaps(policy: Policy, start: int, reading: Signals) -> None:
    """Under one reading repeated, C only ever moves one way (after being brought inside the bounds)."""
    decisions = [d for _, d in run(policy, start, [reading] * 40)][1:]
    moves = {d.action for d in decisions if d.after != d.before}
    assert len(moves) <= 1, moves


@given(policies, st.integers(2, 40), st.lists(readings, min_size=1, max_size=30))
def test_never_raises_while_the_table_throttles(policy: Policy, start: int, signals: list[Signals]) -> None:
    """Only bringing C up to --min may raise it on a reading with new throttles (more than the last one's)."""
    previous: int | None = None
    for reading, (before, decision) in zip(signals, run(policy, start, signals), strict=True):
        if reading.throttles and (previous is None or reading.throttles > previous) and decision.after > before:
            assert before < policy.minimum
        previous = reading.throttles
