"""Planning on the model: the smallest write rate (and the table, concurrency and batch size that go
with it) whose simulated drain meets a deadline, what that costs against writing straight to the
table, and what breaks first when the spike is twice as big.

The search runs the model at a coarse tick (``SEARCH_DT``) and bisects W to within 1 %; the answer is
then run again at ``REPORT_DT`` for the figures and the chart (and nudged up until it still meets the
deadline there). ``tests/unit/test_model_sim.py`` checks both ticks agree.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from nicelist.cost import Prices
from nicelist.model.arrivals import Profile
from nicelist.model.dynamodb import AutoScaling, TableSpec
from nicelist.model.mapping import Mapping
from nicelist.model.sim import Result, Scenario, simulate
from nicelist.model.sqs import RECEIVE_MAX_MESSAGES, RETENTION_SECONDS
from nicelist.model.writer import WriterSpec

SEARCH_DT = 120.0
REPORT_DT = 60.0
BUDGET_SHARE = 0.97  # W = 0.97 x capacity, as the stack and `nicelist rate` set it
NAIVE_UNITS_PER_UPDATE = 1.798  # BENCHMARKS.md: the naive way, one write per update, nothing coalesced
ACCOUNT_CONCURRENCY = 1_000  # Lambda's default concurrent executions per Region ("Lambda quotas")
WRITER_MEMORY_GB = 0.25
LARGE_BATCH_WINDOW = 1.0  # AWS requires a batching window for a batch above 10 messages; the least it takes


@dataclass(frozen=True, slots=True)
class Knobs:
    """What the plan chooses from: a write rate gives the table, C and the batch (``choose``)."""

    write_rate: float
    concurrency: int
    batch_size: int
    table: TableSpec

    @property
    def capacity(self) -> int:
        """Provisioned WCU (an auto scaled table's maximum), or an on-demand table's maximum throughput."""
        table = self.table
        if table.on_demand:
            return table.max_units or 0
        return table.autoscaling.maximum if table.autoscaling else table.capacity


@dataclass(frozen=True, slots=True)
class Setting:
    """Everything that does not change between the candidates of a search."""

    profile: Profile
    deadline: float
    writer: WriterSpec  # write_rate / concurrency are replaced per candidate
    mapping: Mapping
    choose: Callable[[float], Knobs]


@dataclass(slots=True)
class ModelPlan:
    knobs: Knobs
    result: Result
    met: bool
    runs: int
    seconds: float  # wall time of the whole search
    double: Result | None = None
    double_knobs: Knobs | None = None
    breaks_first: list[str] = field(default_factory=list)


def scenario(setting: Setting, knobs: Knobs, dt: float, profile: Profile | None = None) -> Scenario:
    writer = replace(setting.writer, write_rate=knobs.write_rate, concurrency=knobs.concurrency)
    window = setting.mapping.batching_window or (LARGE_BATCH_WINDOW if knobs.batch_size > RECEIVE_MAX_MESSAGES else 0.0)
    mapping = replace(
        setting.mapping, batch_size=knobs.batch_size, maximum_concurrency=knobs.concurrency, batching_window=window
    )
    table = knobs.table
    horizon = max(setting.deadline, (profile or setting.profile).end) * 4 + 86400
    return Scenario(profile or setting.profile, mapping, writer, table, dt=dt, horizon=horizon)


def meets(result: Result, deadline: float) -> bool:
    return result.drained and result.last_write <= deadline and result.redriven_updates == 0


def search(setting: Setting, low: float, high: float, profile: Profile | None = None) -> tuple[Knobs, int]:
    """The smallest W in [low, high] (high doubled until it meets, a few times) that meets the deadline."""
    runs = 0

    def ok(rate: float) -> bool:
        nonlocal runs
        runs += 1
        return meets(simulate(scenario(setting, setting.choose(rate), SEARCH_DT, profile)), setting.deadline)

    for _ in range(6):
        if ok(high):
            break
        low, high = high, high * 2
    else:
        return setting.choose(high), runs
    while high - low > 0.01 * high:
        middle = (low + high) / 2
        if ok(middle):
            high = middle
        else:
            low = middle
    return setting.choose(high), runs


def plan_peak(setting: Setting, lower_bound: float, fixed: Knobs | None = None) -> ModelPlan:
    """``fixed``: evaluate those knobs; otherwise search the least W from the closed-form ``lower_bound``."""
    began = time.perf_counter()
    runs = 0
    if fixed is None:
        knobs, runs = search(setting, max(1.0, lower_bound), max(2.0, lower_bound * 1.25))
        result = simulate(scenario(setting, knobs, REPORT_DT))
        runs += 1
        for _ in range(5):  # the coarse tick may have been lucky: nudge up until the fine one meets too
            if meets(result, setting.deadline):
                break
            knobs = setting.choose(knobs.write_rate * 1.02)
            result = simulate(scenario(setting, knobs, REPORT_DT))
            runs += 1
    else:
        knobs = fixed
        result = simulate(scenario(setting, knobs, REPORT_DT))
        runs = 1
    plan = ModelPlan(knobs, result, meets(result, setting.deadline), runs, 0.0)
    doubled = setting.profile.scaled(2)
    plan.double = simulate(scenario(setting, knobs, REPORT_DT, doubled))
    plan.double_knobs, more = search(setting, knobs.write_rate, knobs.write_rate * 2.2, doubled)
    plan.runs += more + 1
    plan.breaks_first = breaks_first(setting, knobs, plan.double, plan.double_knobs)
    plan.seconds = time.perf_counter() - began
    return plan


def breaks_first(setting: Setting, knobs: Knobs, doubled: Result, needed: Knobs) -> list[str]:
    """What fails, in the order it would, when the same setup meets twice the updates; then what fixes it."""
    found: list[tuple[float, str]] = []
    if not meets(doubled, setting.deadline):
        late = doubled.last_write - setting.deadline
        when = "never drains within the horizon" if not doubled.drained else f"drains {_hours(late)} after it"
        crossing = _first_time(
            doubled, lambda i: doubled.series.backlog[i] > 0 and doubled.series.time[i] >= setting.deadline
        )
        age = f"; its oldest update waits up to {_hours(doubled.peak_age)}"
        found.append((crossing, f"the deadline: the same setup {when}{age}"))
    over = _first_time(doubled, lambda i: doubled.series.oldest_age[i] >= RETENTION_SECONDS)
    if math.isfinite(over):
        found.append((over, f"SQS retention: updates older than {RETENTION_SECONDS / 86400:g} days are deleted (lost)"))
    if doubled.throttled_share > 0.001:
        throttling = _first_time(doubled, lambda i: doubled.series.throttled[i] > 0)
        found.append((throttling, f"the table throttles {doubled.throttled_share:.1%} of the writes"))
    lines = [text for _, text in sorted(found)] or ["nothing: the same setup still meets the deadline at 2x"]
    fix = f"at 2x it takes W {needed.write_rate:,.0f} WCU/s, table {needed.capacity:,} WCU, C {needed.concurrency}"
    if needed.concurrency > ACCOUNT_CONCURRENCY:
        fix += f" (above Lambda's default {ACCOUNT_CONCURRENCY:,} concurrent executions: ask for a quota increase)"
    return [*lines, fix]


def _first_time(result: Result, predicate: Callable[[int], bool]) -> float:
    for i, now in enumerate(result.series.time):
        if predicate(i):
            return now
    return math.inf


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


@dataclass(frozen=True, slots=True)
class Costs:
    dynamodb: float
    writer_lambda: float
    sqs_consumer: float
    direct_on_demand: float  # every update written straight to an on-demand table, uncoalesced
    direct_provisioned: float  # a table provisioned for the peak arrival rate, all day
    direct_peak_wcu: float  # what that table needs (on demand: pre-warm to it)

    @property
    def total(self) -> float:
        return self.dynamodb + self.writer_lambda + self.sqs_consumer


def costs(result: Result, prices: Prices, day_seconds: float = 86400.0) -> Costs:
    """The run's bill (prices from ``nicelist/prices.toml``): provisioned WCU-hours held over the day (or
    on-demand write units), the writer's invocations and GB-seconds, the poller's receives and deletes."""
    s = result.scenario
    if s.table.on_demand:
        dynamodb = result.units / 1e6 * prices.on_demand_per_million_wru
    else:
        held = result.wcu_seconds + s.table.capacity * max(0.0, day_seconds - len(result.series.time) * s.dt)
        dynamodb = held / 3600 * prices.provisioned_per_wcu_hour
    writer_lambda = (
        result.batches / 1e6 * prices.lambda_per_million
        + result.execution_seconds * WRITER_MEMORY_GB * prices.lambda_per_gb_second
    )
    sqs_consumer = 2 * result.batches / 1e6 * prices.sqs_per_million  # one receive and one delete per batch
    updates = s.profile.total
    direct_units = updates * NAIVE_UNITS_PER_UPDATE
    peak = s.profile.peak_rate * NAIVE_UNITS_PER_UPDATE
    return Costs(
        dynamodb=dynamodb,
        writer_lambda=writer_lambda,
        sqs_consumer=sqs_consumer,
        direct_on_demand=direct_units / 1e6 * prices.on_demand_per_million_wru,
        direct_provisioned=peak * day_seconds / 3600 * prices.provisioned_per_wcu_hour,
        direct_peak_wcu=peak,
    )


def autoscaled(table: TableSpec, minimum: int, maximum: int) -> TableSpec:
    return replace(table, capacity=minimum, autoscaling=AutoScaling(minimum, maximum))
