"""The order in which ``nicelist tune`` changes a stage, so that no intermediate state is unsafe.

Two invariants hold at every moment, not just at the end:

- **maximum <= reserved**: otherwise Lambda throttles the poller and throttled receives climb towards
  the DLQ. Raising, reserved concurrency goes up before the mapping's maximum; lowering, the maximum
  comes down before reserved concurrency.
- **C >= the executions that may run**: each writer spends W / C, so C smaller than the executions
  running would overspend the table. Raising, C goes up first, and the tune then waits until every
  running writer uses it (a batch keeps the share it read at its start, for up to the writer's timeout,
  and the value read may be a cache time old) before more executions may start. Lowering, C comes
  down last, after the executions: a writer still holding the old, larger C only underspends.

W comes down first and goes up last, so the table is never asked for more than the larger of the old
and the new budget. Each step says why it is where it is."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from nicelist.tuning.model import LiveStage, StageTuning
from nicelist.writerate import auto_text

MAPPING_FIELDS = ("maximum", "pollers", "batch_size", "batching_window")


@dataclass(frozen=True, slots=True)
class Step:
    """One change (or the wait between two). ``before``/``after`` are values, or dicts for the mapping."""

    action: str  # "write-rate" | "writer-concurrency" | "wait" | "reserved" | "mapping" | "runtime"
    before: Any
    after: Any
    why: str

    def describe(self) -> str:
        if self.action == "wait":
            return f"wait {self.after:g} s: {self.why}"
        return f"{self.action} {_show(self.before)} -> {_show(self.after)}: {self.why}"

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "before": self.before, "after": self.after, "why": self.why}


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def mapping_values(tuning: StageTuning) -> dict[str, Any]:
    """What one UpdateEventSourceMapping (or one POST to the local runtime) changes."""
    values = tuning.as_dict()
    return {name: values[name] for name in MAPPING_FIELDS}


def _up(before: float | None, after: float | None) -> bool:
    return after is not None and (before is None or after > before)


def _down(before: float | None, after: float | None) -> bool:
    return after is not None and before is not None and after < before


def _reserved_up(before: int | None, after: int | None) -> bool:
    """None is no reservation: unbounded, so removing one raises it and adding one lowers it."""
    if before is None or after is None:
        return after is None and before is not None
    return after > before


def _widest(live: int | None, target: int | None) -> int | None:
    """Reserved concurrency while the mapping changes: the larger of the two (None: unbounded)."""
    return None if live is None or target is None else max(live, target)


def peak_executions(live: StageTuning, target: StageTuning) -> int:
    """The most executions any intermediate state allows: reserved is at its widest while the mapping
    changes, so in poller mode (or with a broken live state) this can exceed both ends."""
    widest = _widest(live.reserved, target.reserved)
    states = (
        dataclasses.replace(live, reserved=widest),
        dataclasses.replace(target, reserved=widest),
        target,
    )
    return max(state.executions or 0 for state in states)


def plan_steps(live: StageTuning, target: StageTuning, settle_seconds: float) -> list[Step]:
    """The changes from ``live`` to ``target``, in the order that keeps both invariants."""
    steps = []
    rate_changes = _rate_value(live) != _rate_value(target)
    if rate_changes and _down(live.write_rate, target.write_rate):
        steps.append(Step("write-rate", _rate_value(live), _rate_value(target), "lowered first: spend less sooner"))
    divisor = max(target.writer_concurrency or 0, peak_executions(live, target)) or target.writer_concurrency
    steps += _raise_divisor(live, divisor, peak_executions(live, target), settle_seconds)
    if _reserved_up(live.reserved, target.reserved):
        steps.append(Step("reserved", live.reserved, target.reserved, "raised before the mapping's maximum"))
    old, new = mapping_values(live), mapping_values(target)
    if old != new:
        changed = {k: v for k, v in new.items() if old[k] != v}
        why = "after reserved goes up, before it comes down"
        steps.append(Step("mapping", {k: old[k] for k in changed}, changed, why))
    if live.reserved != target.reserved and not _reserved_up(live.reserved, target.reserved):
        steps.append(Step("reserved", live.reserved, target.reserved, "lowered after the mapping's maximum"))
    current = divisor if _up(live.writer_concurrency, divisor) else live.writer_concurrency
    if _down(current, target.writer_concurrency):
        why = "lowered last, once fewer executions may run: a writer still on the old C only underspends"
        steps.append(Step("writer-concurrency", current, target.writer_concurrency, why))
    if rate_changes and not _down(live.write_rate, target.write_rate) and _rate_value(target) is not None:
        steps.append(Step("write-rate", _rate_value(live), _rate_value(target), "raised last, once the rest holds"))
    return steps


def _rate_value(tuning: StageTuning) -> float | str | None:
    """What the write-rate parameter holds: W, or ``auto[:F]`` (its W follows the table)."""
    return tuning.write_rate if tuning.write_rate_auto is None else auto_text(tuning.write_rate_auto)


def _raise_divisor(live: StageTuning, divisor: int | None, peak: int, settle_seconds: float) -> list[Step]:
    if not _up(live.writer_concurrency, divisor):
        return []
    why = "raised first: no writer may split W by fewer than the executions that may run"
    steps = [Step("writer-concurrency", live.writer_concurrency, divisor, why)]
    # Writers still on the old C are safe only while at most that many executions run.
    if peak > (live.writer_concurrency or 1) and settle_seconds > 0:
        steps.append(Step("wait", None, settle_seconds, "until every running writer uses the new C (timeout + cache)"))
    return steps


class Backend(Protocol):
    """A stage ``nicelist tune`` can change: a deployed one (``nicelist.tuning.aws``) or the local runtime."""

    def read(self) -> LiveStage: ...

    def prepare(self, steps: list[Step]) -> list[Step]: ...

    def apply(self, step: Step) -> None: ...


def execute(
    steps: Iterable[Step],
    backend: Backend,
    *,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[Step], None] = lambda step: None,
) -> list[Step]:
    """Apply the steps in order (waiting where a step says so); return what was done."""
    done = []
    for step in steps:
        progress(step)
        if step.action == "wait":
            sleep(float(step.after))
        else:
            backend.apply(step)
        done.append(step)
    return done
