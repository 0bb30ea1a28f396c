"""The writer's rules, as the model applies them to a whole batch at a time (the code they come from:
``writer/pacing.py``, ``writer/ratelimit.py``, ``writer/defer.py``, ``writer/coalesce.py``).

- Share: in ``static`` mode each execution spends ``share_of(W, C)`` WCU/s (``writer.pacing``), second
  by second; in ``live`` mode (``writer/share.py``, the writer's default: the fix for a mapping still
  ramping up) the executions that run split W among themselves, never more than W in all, and one
  that starts while others run grants nothing for ``ShareRule().join_seconds`` (1.75 s) first; its
  lease outlives a gap between two batches of up to ``lease_seconds`` (10 s).
- AIMD, as ``writer.ratelimit.AimdController`` does it: the fraction grows by
  ``AIMD_INCREASE_PER_SECOND`` (0.3) a second all the time, throttled or not, up to 1; the first
  throttle of a second (the moment the table's second is full: allowed / offered into it) cuts it by
  ``AIMD_DECREASE`` (0.9, at most once a second, never below 0.05). So a budget above a strict table
  is cut late in each second and has grown back by early in the next: the writers keep offering about
  W, and the table throttles the excess every second (``loadtests.model_check``'s ``c2-w130-strict``
  measured 19 % throttled; a rule that grew only in clean seconds predicted 10 %).
- Deadline: a batch writes until the Lambda timeout minus the writer's margin (9.5 s;
  ``writer.settings.deadline_margin_seconds``); an unwritten
  remainder is deferred (new messages, visible at once), a batch with no progress at all is returned
  (``writer.defer.next_step``: back off, or defer on its last receive).
- Coalescing: per batch the writes are fewer than the updates; the model takes a measured ratio,
  write units per update (``units_per_update``: BENCHMARKS.md's 1.375 on the demo's workload, or
  ``coalesced_units`` measured on a workload at a batch size).
- Invocation overhead: each batch costs ``invocation_overhead`` seconds before its first write
  (delete, receive, invoke); not documented by AWS, measured locally by ``loadtests.model_check
  --calibrate``. An execution paced by its share catches up ``write_burst_seconds`` (0.2 s) of it
  after such a gap (``writer.ratelimit.SecondBudget``), so only the rest of the gap is lost; one
  limited by its own round trips (``execution_wcu``) loses all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from contract.updates import LocationUpdate
from writer.coalesce import Tagged
from writer.coalesce import plan as coalesce
from writer.items import state_item, track_item, write_units
from writer.pacing import AIMD_DECREASE, AIMD_INCREASE_PER_SECOND, share_of
from writer.settings import WriterSettings, writing_seconds
from writer.share import ShareRule, divisor

AIMD_FLOOR = 0.05
WRITTEN_AT = "2026-12-23T00:00:00.000000Z"
WRITE_BURST_SECONDS = float(WriterSettings.model_fields["write_burst_seconds"].default)
JOIN_SECONDS = ShareRule().join_seconds
LEASE_SECONDS = ShareRule().lease_seconds


@dataclass(frozen=True, slots=True)
class WriterSpec:
    write_rate: float  # W, WCU/s for the whole table
    concurrency: int  # C, the executions W is split among
    timeout: float = 30.0
    units_per_update: float = 1.375
    updates_per_message: float = 1.0
    execution_wcu: float = 500.0  # what one execution can spend at most (its threads' round trips)
    invocation_overhead: float = 0.1
    share_mode: str = "live"  # "static": W / C; "live": W / executions running now (writer/share.py)
    burst_seconds: float = WRITE_BURST_SECONDS

    @property
    def usable_seconds(self) -> float:
        return writing_seconds(self.timeout)


def execution_rate(spec: WriterSpec, running: int, fraction: float) -> float:
    """WCU/s each running execution may spend now."""
    executions = divisor(running, spec.concurrency) if spec.share_mode == "live" else spec.concurrency
    return min(share_of(spec.write_rate, executions) * fraction, spec.execution_wcu)


def lost_to_overhead(spec: WriterSpec, rate: float) -> float:
    """Seconds of writing one batch's overhead costs an execution spending ``rate`` WCU/s."""
    if rate < spec.execution_wcu:
        return max(0.0, spec.invocation_overhead - spec.burst_seconds)
    return spec.invocation_overhead


def _grown(fraction: float, seconds: float) -> tuple[float, float]:
    """The fraction after growing for ``seconds`` (capped at 1), and its mean over them."""
    if seconds <= 0:
        return fraction, fraction
    end = min(1.0, fraction + AIMD_INCREASE_PER_SECOND * seconds)
    rising = max(0.0, min(seconds, (1.0 - fraction) / AIMD_INCREASE_PER_SECOND))  # then flat at 1
    mean = (rising * (fraction + AIMD_INCREASE_PER_SECOND * rising / 2) + (seconds - rising)) / seconds
    return end, mean


def aimd_second(fraction: float, demand: float, allowed: float) -> tuple[float, float]:
    """One second of AIMD for writers wanting ``demand`` WCU/s at a fraction of 1, the table taking
    ``allowed`` WCU/s: the mean fraction over the second (what it writes at) and the fraction at its
    end. Offered evenly, the table's second is full ``allowed / (demand x fraction)`` into it: the
    first throttle, and the one cut of the second."""
    offered = demand * fraction
    if offered <= allowed * (1 + 1e-9):
        end, mean = _grown(fraction, 1.0)
        return mean, end
    full = max(0.0, min(1.0, allowed / offered))
    for _ in range(3):  # the fraction grows while the second fills: offered at its mean over [0, full]
        full = max(0.0, min(1.0, allowed / (demand * _grown(fraction, full)[1])))
    at_cut, before = _grown(fraction, full)
    cut = max(AIMD_FLOOR, at_cut * AIMD_DECREASE)
    end, after = _grown(cut, 1.0 - full)
    return full * before + (1.0 - full) * after, end


def aimd_over(fraction: float, demand: float, allowed: float, seconds: float) -> tuple[float, float]:
    """AIMD second by second over a tick of ``seconds`` (``aimd_second``): the mean fraction over the
    tick (what the tick writes at) and the fraction at its end."""
    total, steps = 0.0, max(1, round(seconds))
    for _ in range(steps):
        mean, fraction = aimd_second(fraction, demand, allowed)
        total += mean
    return total / steps, fraction


def coalesced_units(messages: Sequence[Sequence[Any]], batch_size: int) -> float:
    """Write units per update when ``messages`` (each a list of validated updates) are written
    ``batch_size`` messages at a time: what ``writer.coalesce.plan`` leaves, sized as ``writer.items``
    sizes it (failed conditions are charged too, so every planned write counts)."""
    units = updates = 0
    for start in range(0, len(messages), batch_size):
        batch = messages[start : start + batch_size]
        tagged = [Tagged(update, str(start + i)) for i, message in enumerate(batch) for update in message]
        planned = coalesce(tagged)
        units += sum(write_units(state_item(w.update, WRITTEN_AT)) for w in planned.state)
        fixes = [w.update for w in planned.track if isinstance(w.update, LocationUpdate)]
        units += sum(write_units(track_item(fix, WRITTEN_AT, 30)) for fix in fixes)
        updates += planned.received
    return units / updates if updates else 0.0


def packed(updates: Iterable[Any], per_message: int) -> list[list[Any]]:
    """Updates in messages of ``per_message``, in order (how the API packs one request)."""
    items = list(updates)
    return [items[i : i + per_message] for i in range(0, len(items), per_message)]
