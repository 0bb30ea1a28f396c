"""One PNG that tells the story: enqueue rate, the table's write rate against capacity, queue depth."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle


def series_for_chart(
    start: int,
    end: int,
    enqueued: dict[int, int],
    meter: Sequence[dict[str, int]],
    queue_depth: dict[int, int],
    backlog_updates: dict[int, int | None] | None = None,
) -> dict[str, list[Any]]:
    """Align everything on seconds since ``start`` (epoch seconds in, relative seconds out)."""
    units = {s["second"]: s["units"] for s in meter}
    throttled = {s["second"]: s["throttled_units"] for s in meter}
    seconds = list(range(start, end + 1))
    return {
        "t": [s - start for s in seconds],
        "enqueued": [enqueued.get(s, 0) for s in seconds],
        "units": [units.get(s, 0) for s in seconds],
        "throttled": [throttled.get(s, 0) for s in seconds],
        "queue": [queue_depth.get(s) for s in seconds],
        "backlog": [(backlog_updates or {}).get(s) for s in seconds],
    }


def _panel(axis: Any, title: str, data: dict[str, list[Any]], capacity: float) -> None:
    axis.set_title(title, loc="left", fontsize=11)
    axis.plot(data["t"], data["enqueued"], color="#9aa5b1", lw=1.2, label="updates accepted (per s)")
    axis.plot(data["t"], data["units"], color="#1f6feb", lw=2.0, label="table writes (WCU/s, metered)")
    if any(data["throttled"]):
        axis.plot(data["t"], data["throttled"], color="#d1242f", lw=1.2, label="throttled (WCU/s)")
    axis.axhline(capacity, color="#2da44e", ls="--", lw=1.5, label=f"capacity {capacity:g} WCU/s")
    axis.set_ylabel("per second")
    axis.set_xlabel("seconds")
    axis.grid(alpha=0.3)
    # The backlog in updates (what is left to write); in messages only when the writers' counts are unknown:
    # deferral splits messages, so a message count can rise after the spike has ended.
    backlog = [(t, q) for t, q in zip(data["t"], data.get("backlog", []), strict=False) if q is not None]
    depth = backlog or [(t, q) for t, q in zip(data["t"], data["queue"], strict=True) if q is not None]
    unit = "updates" if backlog else "messages"
    lines, labels = axis.get_legend_handles_labels()
    if depth:
        right = axis.twinx()
        right.fill_between([t for t, _ in depth], [q for _, q in depth], color="#f0883e", alpha=0.25, step="post")
        right.set_ylabel(f"backlog ({unit})", color="#bc4c00")
        right.set_ylim(bottom=0)
        lines.append(Rectangle((0, 0), 1, 1, color="#f0883e", alpha=0.25))
        labels.append(f"backlog in the queue ({unit})")
    axis.legend(lines, labels, loc="upper right", fontsize=8)


def draw(path: Path, panels: Sequence[tuple[str, dict[str, list[Any]]]], capacity: float) -> Path:
    """Write the chart; one panel per run (``--compare`` draws two, on the same scales)."""
    figure, axes = plt.subplots(len(panels), 1, figsize=(11, 4.2 * len(panels)), sharex=True, squeeze=False)
    for axis, (title, data) in zip(axes[:, 0], panels, strict=True):
        _panel(axis, title, data, capacity)
    top = max(max([0, *d["enqueued"], *d["units"], *d["throttled"]]) for _, d in panels)
    for axis in axes[:, 0]:
        axis.set_ylim(0, max(top, capacity) * 1.1)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
