"""The 23 December story as a load shape: quiet, a spike of about 10x the users, quiet again.

Pure data and arithmetic, no Locust import: the Locust shape in ``locustfile.py`` delegates here,
and unit tests can check the plan without importing Locust (which must patch gevent first).
Every duration and user count comes from ``NICELIST_SPIKE_*`` variables, so the runner
(``loadtests/spike.py``) and a person running ``locust`` by hand size it the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stage:
    """Hold ``users`` until ``until`` seconds after the start, spawning ``spawn_rate`` users/s."""

    until: float
    users: int
    spawn_rate: float


@dataclass(frozen=True, slots=True)
class SpikePlan:
    """Baseline users for ``quiet_seconds``, ``factor`` x baseline for ``spike_seconds``, baseline again."""

    baseline_users: int = 2
    factor: float = 10.0
    quiet_seconds: float = 20.0
    spike_seconds: float = 40.0
    after_seconds: float = 20.0

    def __post_init__(self) -> None:
        if self.baseline_users < 1 or self.factor < 1:
            raise ValueError("baseline_users must be >= 1 and factor >= 1")
        if min(self.quiet_seconds, self.spike_seconds, self.after_seconds) < 0:
            raise ValueError("durations must be >= 0")

    @property
    def spike_users(self) -> int:
        return max(self.baseline_users, round(self.baseline_users * self.factor))

    @property
    def total_seconds(self) -> float:
        return self.quiet_seconds + self.spike_seconds + self.after_seconds

    def stages(self) -> list[Stage]:
        """Spawn the spike within about a second, and let it go as fast (that is the story)."""
        fast = float(self.spike_users)
        quiet_end = self.quiet_seconds
        spike_end = quiet_end + self.spike_seconds
        return [
            Stage(quiet_end, self.baseline_users, float(self.baseline_users)),
            Stage(spike_end, self.spike_users, fast),
            Stage(self.total_seconds, self.baseline_users, fast),
        ]

    def at(self, elapsed: float) -> tuple[int, float] | None:
        """(users, spawn rate) ``elapsed`` seconds into the run, or None once it is over (Locust stops)."""
        for stage in self.stages():
            if elapsed < stage.until:
                return stage.users, stage.spawn_rate
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SpikePlan:
        env = os.environ if env is None else env
        default = cls()
        return cls(
            baseline_users=int(env.get("NICELIST_SPIKE_BASELINE_USERS", default.baseline_users)),
            factor=float(env.get("NICELIST_SPIKE_FACTOR", default.factor)),
            quiet_seconds=float(env.get("NICELIST_SPIKE_QUIET_SECONDS", default.quiet_seconds)),
            spike_seconds=float(env.get("NICELIST_SPIKE_SECONDS", default.spike_seconds)),
            after_seconds=float(env.get("NICELIST_SPIKE_AFTER_SECONDS", default.after_seconds)),
        )

    def as_env(self) -> dict[str, str]:
        """The variables that make ``from_env`` rebuild this plan (for the runner's subprocess)."""
        return {
            "NICELIST_SPIKE_BASELINE_USERS": str(self.baseline_users),
            "NICELIST_SPIKE_FACTOR": str(self.factor),
            "NICELIST_SPIKE_QUIET_SECONDS": str(self.quiet_seconds),
            "NICELIST_SPIKE_SECONDS": str(self.spike_seconds),
            "NICELIST_SPIKE_AFTER_SECONDS": str(self.after_seconds),
        }
