"""A stage's tuning as values, and what a request makes of it.

The same values describe a deployed stage (Lambda, its SQS mapping, SSM) and the local runtime, so
one set of rules (``nicelist.tuning.rules``) and one order of changes (``nicelist.tuning.order``)
serve both (docs/design.md, "Pacing")."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


class TuneError(ValueError):
    """A request that cannot be turned into a tuning (the message says which option to change)."""


class StageUnavailable(RuntimeError):
    """The stage cannot be read: the writer is not deployed, or the local runtime is not running."""


@dataclass(frozen=True, slots=True)
class Pollers:
    """ProvisionedPollerConfig: Lambda's provisioned poller mode, the alternative to MaximumConcurrency."""

    minimum: int
    maximum: int

    @classmethod
    def parse(cls, text: str) -> Pollers:
        low, _, high = text.partition(":")
        try:
            return cls(int(low), int(high))
        except ValueError:
            raise TuneError(f"--pollers takes MIN:MAX (e.g. 2:20) or off, not {text!r}") from None

    def __str__(self) -> str:
        return f"{self.minimum}:{self.maximum}"


@dataclass(frozen=True, slots=True)
class StageTuning:
    """What ``nicelist tune`` changes. None: absent (no reservation, no parameter, no mapping value)."""

    reserved: int | None = None
    maximum: int | None = None  # the mapping's ScalingConfig.MaximumConcurrency
    pollers: Pollers | None = None  # the mapping's ProvisionedPollerConfig
    writer_concurrency: int | None = None  # C: what the writers divide W by
    write_rate: float | None = None  # W, WCU/s for the whole table (in auto mode: as the writers derive it)
    batch_size: int | None = None
    batching_window: float | None = None
    write_rate_auto: float | None = None  # the parameter says auto:F (W follows the table); None: W is a number

    @property
    def executions(self) -> int | None:
        """How many writer executions may run at once. In poller mode only reserved concurrency bounds
        them (the writers must split W by it); otherwise min(reserved, maximum)."""
        if self.pollers is not None or self.maximum is None:
            return self.reserved
        if self.reserved is None:
            return self.maximum
        return min(self.reserved, self.maximum)

    def as_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["pollers"] = None if self.pollers is None else str(self.pollers)
        return values


@dataclass(frozen=True, slots=True)
class StageFacts:
    """What tuning reads but never changes: the table, the writer's timeout, the queue."""

    stage: str
    deployed: bool  # a zappa-deployed stage on AWS (False: the local runtime)
    writer_timeout: int  # seconds
    cache_seconds: float  # how long a writer keeps W and C before re-reading them
    table_capacity: int | None = None  # provisioned WCU; None: on-demand or no table
    table_ceiling: int | None = None  # what auto mode multiplies by (writer.autorate): WCU, or on-demand's
    visibility_timeout: int | None = None
    backlog: int | None = None  # messages visible + in flight
    mapping_ids: tuple[str, ...] = ()

    @property
    def settle_seconds(self) -> float:
        """How long after a change of C every running writer uses it: a batch keeps the share it read
        at its start (at most the timeout), and the value it read may be ``cache_seconds`` old."""
        return self.writer_timeout + self.cache_seconds


@dataclass(frozen=True, slots=True)
class LiveStage:
    tuning: StageTuning
    facts: StageFacts


@dataclass(frozen=True, slots=True)
class TuneRequest:
    """The options of ``nicelist tune``; None means "leave as it is"."""

    concurrency: int | None = None  # N executions: maximum = reserved = C = N
    reserved: int | None = None
    unreserved: bool = False
    write_rate: float | None = None
    batch_size: int | None = None
    batching_window: float | None = None
    pollers: Pollers | None = None
    pollers_off: bool = False
    write_rate_auto: float | None = None  # --write-rate auto[:F]: the fraction

    @property
    def empty(self) -> bool:
        return self == TuneRequest()


def request_errors(request: TuneRequest, live: LiveStage) -> list[str]:
    """Combinations of options that mean nothing (usage errors, before any rule)."""
    errors = []
    poller_mode = live.tuning.pollers is not None
    if (request.pollers or request.pollers_off) and not live.facts.deployed:
        errors.append("--pollers: the local runtime has no provisioned poller mode")
    if request.pollers and request.concurrency is not None:
        errors.append(
            "--pollers and --concurrency are exclusive scaling modes (AWS); with --pollers, size the writer "
            "with --reserved-concurrency"
        )
    if request.pollers_off and request.concurrency is None:
        errors.append("--pollers off needs --concurrency N: the maximum concurrency to go back to")
    if poller_mode and request.concurrency is not None and not request.pollers_off:
        errors.append(
            "the mapping is in provisioned poller mode: --pollers off --concurrency N goes back to maximum "
            "concurrency; --reserved-concurrency resizes the writer"
        )
    if request.unreserved and (live.facts.deployed or request.reserved is not None):
        errors.append("--unreserved: only on the local runtime, and not with --reserved-concurrency")
    return errors


def resolve_auto_rate(tuning: StageTuning, facts: StageFacts) -> StageTuning:
    """In auto mode, W is the fraction of the table's ceiling (``writer.autorate``), as the writers compute it."""
    if tuning.write_rate_auto is None:
        return tuning
    rate = None if facts.table_ceiling is None else tuning.write_rate_auto * facts.table_ceiling
    return dataclasses.replace(tuning, write_rate=rate)


def _given(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


def target_of(live: StageTuning, request: TuneRequest) -> StageTuning:
    """The tuning the request asks for. C always follows the executions that may run."""
    pollers = None if request.pollers_off else _given(request.pollers, live.pollers)
    asked = _given(request.reserved, _given(request.concurrency, live.reserved))
    reserved = None if request.unreserved else asked
    maximum = None if pollers is not None else _given(request.concurrency, live.maximum)
    target = dataclasses.replace(
        live,
        reserved=reserved,
        maximum=maximum,
        pollers=pollers,
        write_rate=_given(request.write_rate, live.write_rate),
        batch_size=_given(request.batch_size, live.batch_size),
        batching_window=_given(request.batching_window, live.batching_window),
    )
    if request.write_rate is not None:  # a number ends auto mode
        target = dataclasses.replace(target, write_rate_auto=None)
    if request.write_rate_auto is not None:  # W as the writers will derive it: resolve_auto_rate
        target = dataclasses.replace(target, write_rate_auto=request.write_rate_auto)
    return dataclasses.replace(target, writer_concurrency=_given(target.executions, live.writer_concurrency))
