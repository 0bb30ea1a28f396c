"""The safe order of ``nicelist tune`` (nicelist/tuning/order.py), checked by replaying every step.

At every moment between two steps: the mapping's maximum (or 10 x the pollers) never exceeds reserved
concurrency, and no writer that may run divides W by fewer than the executions that may run, counting
writers that still hold an older C until a wait lets them pick up the new one."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from nicelist.tuning.model import Pollers, StageTuning, TuneRequest, target_of
from nicelist.tuning.order import Step, plan_steps
from nicelist.tuning.rules import INVOKES_PER_POLLER

SETTLE = 65.0


def _apply(state: StageTuning, step: Step) -> StageTuning:
    if step.action == "write-rate":
        return dataclasses.replace(state, write_rate=step.after)
    if step.action == "writer-concurrency":
        return dataclasses.replace(state, writer_concurrency=step.after)
    if step.action == "reserved":
        return dataclasses.replace(state, reserved=step.after)
    changes = dict(step.after)
    if "pollers" in changes and changes["pollers"] is not None:
        changes["pollers"] = Pollers.parse(changes["pollers"])
    return dataclasses.replace(state, **changes)


def _bound(state: StageTuning) -> int:
    """What reserved concurrency must cover: the maximum, or what the pollers can drive."""
    if state.pollers is not None:
        return INVOKES_PER_POLLER * state.pollers.maximum
    return state.maximum or 0


def replay(live: StageTuning, target: StageTuning) -> list[str]:
    """Every broken invariant along the way (empty: the order is safe)."""
    broken = []
    state, held = live, {live.writer_concurrency or 1}  # the C values running writers may still use
    for step in plan_steps(live, target, SETTLE):
        if step.action == "wait":
            held = {state.writer_concurrency or 1}
            continue
        state = _apply(state, step)
        if step.action == "writer-concurrency":
            held.add(step.after)
        if state.reserved is not None and _bound(state) > state.reserved:
            broken.append(f"after {step.describe()}: bound {_bound(state)} > reserved {state.reserved}")
        executions = state.executions or 0
        if min(held) < executions:
            broken.append(f"after {step.describe()}: a writer splits by {min(held)} with {executions} running")
    if state != target:
        broken.append(f"ended at {state}, not {target}")
    return broken


def _stage(reserved: int, maximum: int, rate: float = 100.0) -> StageTuning:
    return StageTuning(reserved, maximum, None, maximum, rate, 10, 0.0)


def test_raising_puts_c_first_waits_then_reserved_then_the_maximum() -> None:
    live = _stage(2, 2)
    target = target_of(live, TuneRequest(concurrency=4, write_rate=200))
    steps = plan_steps(live, target, SETTLE)
    assert [s.action for s in steps] == ["writer-concurrency", "wait", "reserved", "mapping", "write-rate"]
    assert steps[1].after == SETTLE
    assert replay(live, target) == []


def test_lowering_is_the_reverse() -> None:
    live = _stage(8, 8, rate=400)
    target = target_of(live, TuneRequest(concurrency=3, write_rate=90))
    assert [s.action for s in plan_steps(live, target, SETTLE)] == [
        "write-rate",
        "mapping",
        "reserved",
        "writer-concurrency",
    ]
    assert replay(live, target) == []


def test_without_the_wait_the_replay_catches_the_overspend() -> None:
    """The checker is not vacuous: drop the wait and writers still on C=2 run beside new ones."""
    live = _stage(2, 2)
    target = target_of(live, TuneRequest(concurrency=4))
    steps = [s for s in plan_steps(live, target, SETTLE) if s.action != "wait"]
    state, held, broken = live, {2}, []
    for step in steps:
        state = _apply(state, step)
        if step.action == "writer-concurrency":
            held.add(step.after)
        broken += [step.action] if min(held) < (state.executions or 0) else []
    assert broken == ["mapping"]


def test_fixing_a_too_small_c_alone_needs_no_wait() -> None:
    live = dataclasses.replace(_stage(4, 4), writer_concurrency=6)
    target = target_of(live, TuneRequest(write_rate=50))
    assert [s.action for s in plan_steps(live, target, SETTLE)] == ["write-rate", "writer-concurrency"]


def test_switching_to_pollers_and_back() -> None:
    live = _stage(40, 4)
    to_pollers = target_of(live, TuneRequest(pollers=Pollers(2, 4)))
    assert (to_pollers.maximum, to_pollers.writer_concurrency) == (None, 40)
    assert replay(live, to_pollers) == []
    back = target_of(to_pollers, TuneRequest(pollers_off=True, concurrency=5))
    assert (back.pollers, back.maximum, back.reserved, back.writer_concurrency) == (None, 5, 5, 5)
    assert replay(to_pollers, back) == []


counts = st.integers(2, 50)


@given(counts, counts, counts, counts, st.floats(1, 1000), st.floats(1, 1000))
def test_every_change_of_concurrency_keeps_both_invariants(
    reserved: int, maximum: int, new_reserved: int, new_maximum: int, rate: float, new_rate: float
) -> None:
    live = _stage(max(reserved, maximum), min(reserved, maximum), rate)
    request = TuneRequest(
        concurrency=min(new_reserved, new_maximum), reserved=max(new_reserved, new_maximum), write_rate=new_rate
    )
    assert replay(live, target_of(live, request)) == []


@given(counts, st.integers(2, 5), st.integers(2, 5), st.integers(20, 80))
def test_every_change_of_pollers_keeps_both_invariants(maximum: int, low: int, extra: int, reserved: int) -> None:
    live = _stage(max(maximum, 50), maximum)
    pollers = Pollers(low, low + extra)
    request = TuneRequest(pollers=pollers, reserved=max(reserved, INVOKES_PER_POLLER * pollers.maximum))
    target = target_of(live, request)
    assert replay(live, target) == []
    assert replay(target, target_of(target, TuneRequest(pollers_off=True, concurrency=maximum))) == []
