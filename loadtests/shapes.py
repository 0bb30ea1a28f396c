"""The spike test's load shapes as pure schedules: each says how many users run at a moment, and ends.

- ``surge``: the 23 December story: quiet, a spike of about ``factor`` x the users, quiet again.
- ``burst``: ``updates`` updates sent as fast as ``users`` users can, then over.
- ``sawtooth``: ``teeth`` linear ramps from 1 to ``peak_users`` users, each dropping back at once.

No Locust import: the ``LoadTestShape`` classes in ``locustfile.py`` delegate here, and unit tests
check the schedules without importing Locust (which must patch gevent first). ``at(elapsed, sent)``
returns ``(users, spawn_rate)``, or None once the shape is over, which is what stops Locust; every
shape also ends by ``max_seconds`` whatever happens. Sizes come from ``NICELIST_SPIKE_*`` variables
(``from_env``/``as_env``), so the runner (``loadtests/spike.py``) and a person running ``locust`` by
hand size a shape the same way; ``NICELIST_SPIKE_SHAPE`` names the shape (``plan_from_env``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

SHAPE_VARIABLE = "NICELIST_SPIKE_SHAPE"


class Schedule(Protocol):
    name: ClassVar[str]
    as_fast_as_possible: ClassVar[bool]

    @property
    def max_seconds(self) -> float: ...

    def at(self, elapsed: float, sent: int = 0) -> tuple[int, float] | None: ...

    def as_env(self) -> dict[str, str]: ...


class _EnvPlan:
    """``from_env``/``as_env`` for a frozen dataclass whose fields map to ``NICELIST_SPIKE_*`` names."""

    variables: ClassVar[dict[str, str]]  # field name -> environment variable

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Any:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
            name = cls.variables[spec.name]
            if name in env:
                values[spec.name] = int(env[name]) if spec.type == "int" else float(env[name])
        return cls(**values)

    def _check_finite(self) -> None:
        """``inf`` would never end and ``nan`` ends at once: refused, like any other nonsense size."""
        for spec in dataclasses.fields(self):  # type: ignore[arg-type]
            if not math.isfinite(getattr(self, spec.name)):
                raise ValueError(f"{spec.name} must be a finite number")

    def as_env(self) -> dict[str, str]:
        """The variables that make ``from_env`` rebuild this plan (for the runner's subprocess)."""
        env = {self.variables[f.name]: str(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return {**env, SHAPE_VARIABLE: self.name}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SurgePlan(_EnvPlan):
    """Baseline users for ``quiet_seconds``, ``factor`` x baseline for ``spike_seconds``, baseline again."""

    name: ClassVar[str] = "surge"
    as_fast_as_possible: ClassVar[bool] = False
    variables: ClassVar[dict[str, str]] = {
        "baseline_users": "NICELIST_SPIKE_BASELINE_USERS",
        "factor": "NICELIST_SPIKE_FACTOR",
        "quiet_seconds": "NICELIST_SPIKE_QUIET_SECONDS",
        "spike_seconds": "NICELIST_SPIKE_SECONDS",
        "after_seconds": "NICELIST_SPIKE_AFTER_SECONDS",
    }

    baseline_users: int = 1
    factor: float = 6.0
    quiet_seconds: float = 10.0
    spike_seconds: float = 15.0
    after_seconds: float = 10.0

    def __post_init__(self) -> None:
        self._check_finite()
        if self.baseline_users < 1 or self.factor < 1:
            raise ValueError("baseline_users must be >= 1 and factor >= 1")
        if min(self.quiet_seconds, self.spike_seconds, self.after_seconds) < 0:
            raise ValueError("durations must be >= 0")

    @property
    def spike_users(self) -> int:
        return max(self.baseline_users, round(self.baseline_users * self.factor))

    @property
    def max_seconds(self) -> float:
        return self.quiet_seconds + self.spike_seconds + self.after_seconds

    def at(self, elapsed: float, sent: int = 0) -> tuple[int, float] | None:
        """Spawn the spike within about a second, and let it go as fast (that is the story)."""
        fast = float(self.spike_users)
        if elapsed < self.quiet_seconds:
            return self.baseline_users, float(self.baseline_users)
        if elapsed < self.quiet_seconds + self.spike_seconds:
            return self.spike_users, fast
        if elapsed < self.max_seconds:
            return self.baseline_users, fast
        return None


@dataclass(frozen=True, slots=True)
class BurstPlan(_EnvPlan):
    """``updates`` updates as fast as ``users`` users can send them (no pacing); over once all are sent.

    ``sent`` counts the updates handed out to users (claimed before each request, see the
    locustfile's ``Budget``), so the shape ends as the last one goes out; ``max_seconds`` is the
    backstop for a stack too slow to take them all.
    """

    name: ClassVar[str] = "burst"
    as_fast_as_possible: ClassVar[bool] = True
    variables: ClassVar[dict[str, str]] = {
        "updates": "NICELIST_SPIKE_BURST_UPDATES",
        "users": "NICELIST_SPIKE_BURST_USERS",
        "limit_seconds": "NICELIST_SPIKE_BURST_MAX_SECONDS",
    }

    updates: int = 3000
    users: int = 4
    limit_seconds: float = 60.0

    def __post_init__(self) -> None:
        self._check_finite()
        if self.updates < 1 or self.users < 1 or self.limit_seconds <= 0:
            raise ValueError("updates and users must be >= 1, and the time limit > 0")

    @property
    def max_seconds(self) -> float:
        return self.limit_seconds

    def at(self, elapsed: float, sent: int = 0) -> tuple[int, float] | None:
        if sent >= self.updates or elapsed >= self.limit_seconds:
            return None
        return self.users, float(self.users)


@dataclass(frozen=True, slots=True)
class SawtoothPlan(_EnvPlan):
    """``teeth`` ramps of ``tooth_seconds`` each, from 1 user up to ``peak_users``, then straight down."""

    name: ClassVar[str] = "sawtooth"
    as_fast_as_possible: ClassVar[bool] = False
    variables: ClassVar[dict[str, str]] = {
        "peak_users": "NICELIST_SPIKE_SAW_PEAK_USERS",
        "tooth_seconds": "NICELIST_SPIKE_SAW_TOOTH_SECONDS",
        "teeth": "NICELIST_SPIKE_SAW_TEETH",
    }

    peak_users: int = 6
    tooth_seconds: float = 12.0
    teeth: int = 3

    def __post_init__(self) -> None:
        self._check_finite()
        if self.peak_users < 1 or self.teeth < 1 or self.tooth_seconds <= 0:
            raise ValueError("peak_users and teeth must be >= 1, and tooth_seconds > 0")

    @property
    def max_seconds(self) -> float:
        return self.tooth_seconds * self.teeth

    def at(self, elapsed: float, sent: int = 0) -> tuple[int, float] | None:
        if elapsed >= self.max_seconds:
            return None
        into_tooth = (elapsed % self.tooth_seconds) / self.tooth_seconds
        users = 1 + math.floor(into_tooth * self.peak_users)
        return min(users, self.peak_users), float(self.peak_users)  # the drop is immediate


SHAPES: dict[str, type[SurgePlan] | type[BurstPlan] | type[SawtoothPlan]] = {
    plan.name: plan for plan in (SurgePlan, BurstPlan, SawtoothPlan)
}


def plan_from_env(env: Mapping[str, str] | None = None) -> SurgePlan | BurstPlan | SawtoothPlan:
    """The shape ``NICELIST_SPIKE_SHAPE`` names (default ``surge``), sized from the environment."""
    env = os.environ if env is None else env
    name = env.get(SHAPE_VARIABLE) or SurgePlan.name
    if name not in SHAPES:
        raise ValueError(f"{SHAPE_VARIABLE}={name!r}: expected one of {', '.join(SHAPES)}")
    plan: SurgePlan | BurstPlan | SawtoothPlan = SHAPES[name].from_env(env)
    return plan
