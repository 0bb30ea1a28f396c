"""The chart of a simulated run: backlog and the oldest update's age above, write rate against
capacity below (``nicelist plan --chart``, ``docs/plan-1.8b.png``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt

from nicelist.model.sim import Result


def draw(path: Path, result: Result, deadline: float, start: dt.datetime | None, title: str) -> None:
    """Backlog (updates) and the table's write rate against capacity over the run."""
    series = result.series
    hours = [t / 3600 for t in series.time]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    top.fill_between(hours, [b / 1e6 for b in series.backlog], color="tab:orange", alpha=0.6, label="backlog")
    top.set_ylabel("updates waiting (millions)")
    age = top.twinx()
    age.plot(hours, [a / 3600 for a in series.oldest_age], color="tab:red", linewidth=1, label="oldest update's age")
    age.set_ylabel("oldest update's age (h)")
    top.legend(loc="upper left")
    age.legend(loc="upper right")
    profile, tick = result.scenario.profile, result.scenario.dt
    units = result.scenario.writer.units_per_update / tick / 1000
    arriving = [(profile.arrived_before(t + tick) - profile.arrived_before(t)) * units for t in series.time]
    bottom.plot(hours, arriving, color="tab:gray", linewidth=1, label="arriving (x units/update)")
    bottom.plot(hours, [w / 1000 for w in series.written], color="tab:blue", linewidth=1.5, label="table writes")
    bottom.plot(
        hours, [c / 1000 for c in series.capacity], color="black", linestyle="--", linewidth=1, label="capacity"
    )
    bottom.set_ylabel("thousand WCU/s")
    bottom.legend(loc="upper left")
    for axis in (top, bottom):
        axis.axvline(deadline / 3600, color="tab:green", linestyle=":", linewidth=1.5)
        axis.grid(alpha=0.3)
    label = "hours from the start" if start is None else f"hours from {start.isoformat(timespec='minutes')}"
    bottom.set_xlabel(label + " (green: the deadline)")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
