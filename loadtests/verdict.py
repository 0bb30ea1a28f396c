"""The spike's pass/fail rule: what a run must show, each failure said in one plain sentence.

A run fails on any loss (an acknowledged update the table does not show), a valid update in the
DLQ, an answer other than the expected one, a Locust failure ratio, p95 or drain time (against the
ideal) above its threshold, a
queue that did not drain, or a table pushed above its capacity. That last one is judged on the
writers' peak: their highest rate over a window of seconds, counting every unit they sent the table,
accepted or throttled (the meter's ``units + throttled_units``). Judging only what the meter accepted
would hide a writer that ignores its budget (without burst credit the meter never accepts more than
the capacity; with it, it does for a while). The window is one second by default, the table's own
unit: the writers pace in the table's wall-clock seconds (``writer/ratelimit.py`` ``SecondBudget``),
and every shape's single seconds stayed at 0.98 x capacity. ``--peak-window N`` averages over N
seconds instead, for a machine so loaded that requests granted at a second's end land in the next.
Pure functions, no I/O: the runner gathers the facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Thresholds:
    max_failure_ratio: float = 0.0  # Locust failures / requests
    max_p95_ms: float | None = None  # the Aggregated p95; None: not judged
    max_peak_ratio: float = 1.0  # writers' peak / capacity
    max_drain_ratio: float | None = None  # drain time / ideal; None: not judged

    def __post_init__(self) -> None:
        if not 0 <= self.max_failure_ratio <= 1:
            raise ValueError("the failure ratio threshold must be in [0, 1]")
        if self.max_p95_ms is not None and self.max_p95_ms <= 0:
            raise ValueError("the p95 threshold must be > 0 ms")
        if self.max_peak_ratio <= 0:
            raise ValueError("the peak ratio threshold must be > 0")
        if self.max_drain_ratio is not None and self.max_drain_ratio < 1:
            raise ValueError("the drain ratio threshold must be >= 1 (1 is the ideal)")


@dataclass(frozen=True, slots=True)
class Facts:
    """What one run showed. ``capacity``/``writers_peak`` are None where no meter watched the table."""

    acknowledged: int
    lost: int
    requests: int
    failures: int
    p95_ms: float
    unexpected_answers: int = 0
    accepted_mismatch: int = 0  # |sum of the API's "accepted" - updates recorded as accepted by it|
    dlq_depth: int = 0
    drained: bool = True
    locust_exit: int = 0
    capacity: float | None = None
    writers_peak: float | None = None
    drain_ratio: float | None = None  # the meter's drain time / ideal

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def peak_ratio(self) -> float | None:
        if self.capacity is None or self.writers_peak is None or not self.capacity:
            return None
        return self.writers_peak / self.capacity


def problems(facts: Facts, thresholds: Thresholds) -> list[str]:
    """Every reason the run failed (empty: it passed)."""
    found: list[str] = []
    if facts.acknowledged == 0:
        found.append("nothing was acknowledged: the run proves nothing")
    if facts.lost:
        found.append(f"LOST {facts.lost} acknowledged update(s): the table does not show them")
    if not facts.drained:
        found.append("the queue did not drain before the timeout")
    if facts.dlq_depth:
        found.append(f"{facts.dlq_depth} message(s) reached the DLQ")
    if facts.unexpected_answers:
        found.append(f"{facts.unexpected_answers} request(s) got an answer other than the expected one")
    if facts.accepted_mismatch:
        found.append(f"the API's 'accepted' counts differ from the updates sent by {facts.accepted_mismatch}")
    if facts.failure_ratio > thresholds.max_failure_ratio:
        found.append(
            f"failure ratio {facts.failure_ratio:.4f} ({facts.failures}/{facts.requests}) "
            f"> --max-failure-ratio {thresholds.max_failure_ratio:g}"
        )
    if thresholds.max_p95_ms is not None and facts.p95_ms > thresholds.max_p95_ms:
        found.append(f"p95 {facts.p95_ms:g} ms > --max-p95-ms {thresholds.max_p95_ms:g}")
    ratio = facts.peak_ratio
    if ratio is not None and ratio > thresholds.max_peak_ratio:
        found.append(
            f"the table was pushed above its capacity: writers' peak {facts.writers_peak:.1f} WCU/s = "
            f"{ratio:.2f} x capacity {facts.capacity:g} (limit {thresholds.max_peak_ratio:.2f} x)"
        )
    limit, drain = thresholds.max_drain_ratio, facts.drain_ratio
    if limit is not None and drain is not None and drain > limit:
        found.append(f"drain took {drain:.2f} x ideal > --max-drain-ratio {limit:g}")
    if facts.locust_exit and not found:
        found.append(f"Locust exited {facts.locust_exit} (see its log)")
    return found


def writers_peak(series: Sequence[dict[str, int]], window: int = 1) -> float:
    """The writers' highest rate (WCU/s) over ``window`` consecutive seconds of the meter's series,
    counting every unit they sent: accepted or throttled."""
    sent = [s["units"] + s["throttled_units"] for s in series]
    if not sent:
        return 0.0
    width = max(1, min(window, len(sent)))
    return max(sum(sent[i : i + width]) for i in range(len(sent) - width + 1)) / width
