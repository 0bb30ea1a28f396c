"""``nicelist plan``: given what must be written and by when, and the table, which write rate,
concurrency and batch size to run, whether the deadline is met, what it costs, and what breaks first
when the spike is twice as big.

Two models answer. The closed form is a fluid queue drained at a constant rate (the writers turn W
WCU/s into W / u updates/s; with A(s) the updates arrived before s the last is written at
max over the profile's breakpoints s of s + (A_total - A(s)) / (W / u)); it gives the lower bound the
search starts from and the pre-warm advice. The simulation (``nicelist.model``: SQS, the mapping's
poller ramp, the writer's pacing and deadline, DynamoDB's capacity rules, each cited in its module)
gives the answer: the drain time, the oldest update's age, the throttles, the concurrency, the cost.
``--profile december-23`` plans the built-in day (1.8 billion updates, ``nicelist.model.arrivals``)
in the table's region's time zone, with the deadline at 24 December 00:00 there.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from contract import jsonio
from nicelist.console import emit
from nicelist.cost import PriceError, Prices, drain_bill, load_prices
from nicelist.local.stack import BUDGET_SHARE
from nicelist.mapping import MIN_MAXIMUM_CONCURRENCY
from nicelist.model.arrivals import DECEMBER_23_UPDATES, ArrivalError, Profile, december_23
from nicelist.model.arrivals import read_arrivals as _read_arrivals
from nicelist.model.chart import draw
from nicelist.model.dynamodb import TableSpec
from nicelist.model.mapping import Mapping
from nicelist.model.planner import Knobs, ModelPlan, Setting, autoscaled, plan_peak
from nicelist.model.report import model_summary, summary_lines
from nicelist.model.writer import WriterSpec
from nicelist.provision import ProvisionOptions
from nicelist.tuning.rules import MAX_BATCH_SIZE, MAX_MAXIMUM_CONCURRENCY, UNWINDOWED_BATCH_LIMIT
from writer.settings import deadline_margin_seconds, writing_seconds

# BENCHMARKS.md (`nicelist bench`, "write units / 1,000 updates"): 1,375 after coalescing, on its workload.
DEFAULT_UNITS_PER_UPDATE = 1.375
# A new on-demand table takes 4,000 write units/s at once (its initial warm throughput, AWS).
ON_DEMAND_INITIAL_WARM_WCU = 4000
# Not measured: what one writer execution can spend (8 write threads at ~10 ms a conditional put is
# ~800 puts/s). Measure it from `zappa tail` ("batch done": units over duration) and pass --execution-wcu.
ASSUMED_EXECUTION_WCU = 500.0
DEFAULT_WRITER_TIMEOUT = ProvisionOptions().writer_timeout
DEFAULT_BATCH_SIZE = UNWINDOWED_BATCH_LIMIT  # fits provisioning's visibility (6 x timeout, no window)
DAY_SECONDS = 86_400
# The table's region gives the day's clock (an assumption: the children are where the table is).
REGION_TIME_ZONES = {
    "us-east-1": "America/New_York", "us-east-2": "America/New_York", "us-west-1": "America/Los_Angeles",
    "us-west-2": "America/Los_Angeles", "ca-central-1": "America/Toronto", "sa-east-1": "America/Sao_Paulo",
    "eu-west-1": "Europe/Dublin", "eu-west-2": "Europe/London", "eu-west-3": "Europe/Paris",
    "eu-central-1": "Europe/Berlin", "eu-north-1": "Europe/Stockholm", "eu-south-1": "Europe/Rome",
    "ap-northeast-1": "Asia/Tokyo", "ap-northeast-2": "Asia/Seoul", "ap-southeast-1": "Asia/Singapore",
    "ap-southeast-2": "Australia/Sydney", "ap-south-1": "Asia/Kolkata", "cn-north-1": "Asia/Shanghai",
}  # fmt: skip
DEFAULT_INVOCATION_OVERHEAD = 0.1  # Lambda's per-batch poll, invoke and delete: assumed, not documented
WINDOW_FOR_LARGE_BATCHES = 1  # the least AWS accepts above UNWINDOWED_BATCH_LIMIT
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


class PlanError(ValueError):
    """An input the model cannot use; the message says which."""


def finish_time(profile: Profile, updates_per_second: float) -> float:
    """When the last update is written, draining at ``updates_per_second`` from time 0."""
    total = profile.total
    if total == 0:
        return 0.0
    last = profile.last_arrival
    return max(s + (total - profile.arrived_before(s)) / updates_per_second for s in profile.breakpoints if s <= last)


def required_rate(profile: Profile, deadline: float) -> float:
    """The drain rate (updates/s) that writes everything by ``deadline``; inf if arrivals end after it."""
    total = profile.total
    if total - profile.arrived_before(deadline) > 0:
        return math.inf
    needed = 0.0
    # (remaining after s) / (deadline - s) is monotonic between breakpoints: its maximum is at one of them
    for s in profile.breakpoints:
        remaining = total - profile.arrived_before(s)
        if remaining <= 0:
            continue
        if s >= deadline:
            return math.inf
        needed = max(needed, remaining / (deadline - s))
    return needed


def parse_duration(text: str) -> float:
    """``90m``, ``1h30m``, ``45s``, ``2h`` or plain seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise PlanError(f"not a duration: {text!r} (e.g. 90m, 1h30m, 3600)")
    hours, minutes, seconds = (float(group or 0) for group in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_deadline(text: str, now: dt.datetime) -> float:
    """Seconds from ``now``: a duration, an ISO time with a zone, or HH:MM (the next one, local time)."""
    if re.fullmatch(r"\d{1,2}:\d{2}", text):
        hour, minute = map(int, text.split(":"))
        local = now.astimezone()
        when = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return ((when if when > local else when + dt.timedelta(days=1)) - local).total_seconds()
    if "T" in text:
        when = dt.datetime.fromisoformat(text)
        if when.tzinfo is None:
            raise PlanError(f"{text!r} needs a time zone (Z or +hh:mm)")
        return (when - now).total_seconds()
    return parse_duration(text)


def read_arrivals(path: Path, backlog: float = 0.0) -> Profile:
    """CSV rows ``seconds_from_now,updates_per_second`` (``nicelist.model.arrivals.read_arrivals``)."""
    try:
        return _read_arrivals(path, backlog)
    except ArrivalError as error:
        raise PlanError(str(error)) from error


@dataclass(frozen=True, slots=True)
class Table:
    """Provisioned (``capacity`` WCU) or on-demand (``capacity`` = its maximum write throughput)."""

    capacity: int
    on_demand: bool = False
    warm_wcu: int | None = None  # what it takes at once now; default: capacity, or 4,000 on-demand

    @property
    def warm(self) -> int:
        if self.warm_wcu is not None:
            return self.warm_wcu
        return ON_DEMAND_INITIAL_WARM_WCU if self.on_demand else self.capacity

    @property
    def takes_now(self) -> int:
        """WCU/s the table takes without any change: its provisioned WCU, or min(maximum, warm)."""
        return min(self.capacity, self.warm) if self.on_demand else self.capacity


@dataclass(frozen=True, slots=True)
class Assumptions:
    units_per_update: float = DEFAULT_UNITS_PER_UPDATE
    updates_per_message: float = 1.0
    writer_timeout: int = DEFAULT_WRITER_TIMEOUT
    execution_wcu: float = ASSUMED_EXECUTION_WCU
    batch_size: int = DEFAULT_BATCH_SIZE
    max_concurrency: int = MAX_MAXIMUM_CONCURRENCY

    def lines(self) -> list[str]:
        return [
            f"{self.units_per_update:g} write units per update (nicelist bench, BENCHMARKS.md; --units-per-update)",
            f"updates per SQS message: {self.updates_per_message:g} (--updates-per-message)",
            f"one execution spends at most {self.execution_wcu:g} WCU/s (not measured; --execution-wcu)",
            f"a batch must finish within the writer's {self.writer_timeout} s timeout minus "
            f"{deadline_margin_seconds(self.writer_timeout):g} s (--writer-timeout)",
            f"W = {BUDGET_SHARE:g} x the table's capacity (what it takes now, or the table the plan chooses)",
        ]


@dataclass(frozen=True, slots=True)
class Plan:
    updates: float
    deadline_seconds: float
    write_rate: float
    needed_write_rate: float
    concurrency: int
    batch_size: int
    batching_window: int
    drain_seconds: float
    deadline_met: bool
    prewarm_wcu: int | None
    updates_per_message: float = 1.0  # the plan's assumption; `tune --plan` estimates the drain with it
    advice: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    cost: dict[str, Any] = field(default_factory=dict)  # the drain's AWS bill (nicelist.cost)
    model: dict[str, Any] = field(default_factory=dict)  # the simulation's figures (nicelist.model)
    ideal_seconds: float = 0.0  # the closed form's drain time at the same W

    def apply(self) -> dict[str, Any]:
        """What ``nicelist tune --plan`` applies."""
        return {
            "write_rate": self.write_rate,
            "concurrency": self.concurrency,
            "batch_size": self.batch_size,
            "batching_window": self.batching_window,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "apply": self.apply()}


def concurrency_for(write_rate: float, assumptions: Assumptions) -> int:
    """Enough executions to spend W, at most ``execution_wcu`` each (and at least AWS's minimum of 2)."""
    wanted = math.ceil(write_rate / assumptions.execution_wcu)
    return min(assumptions.max_concurrency, max(MIN_MAXIMUM_CONCURRENCY, wanted))


def batch_size_for(write_rate: float, concurrency: int, assumptions: Assumptions) -> int:
    """The largest batch (up to the one asked for) whose writes, at one execution's share W / C, end
    within the writer's timeout minus its deadline margin: b x updates/message x u / (W / C) < usable.
    Note the rule bounds C from above for a given batch: more executions means a smaller share each."""
    usable = writing_seconds(assumptions.writer_timeout)
    per_message = assumptions.updates_per_message * assumptions.units_per_update / (write_rate / concurrency)
    fits = math.ceil(usable / per_message) - 1 if per_message > 0 else MAX_BATCH_SIZE
    return max(0, min(assumptions.batch_size, fits, MAX_BATCH_SIZE))


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """What the simulation needs beyond the closed form's assumptions."""

    share_mode: str = "live"
    invocation_overhead: float = DEFAULT_INVOCATION_OVERHEAD
    auto_scaling: tuple[int, int] | None = None  # a provisioned table scaled between these WCU
    start: dt.datetime | None = None  # wall time of the profile's time 0 (printing only)


def make_plan(
    profile: Profile,
    deadline: float,
    table: Table | None,
    assumptions: Assumptions,
    prices: Prices | None = None,
    options: ModelOptions | None = None,
) -> Plan:
    """``table`` None: the plan chooses a provisioned table (W / 0.97 WCU) as well."""
    return model_plan(profile, deadline, table, assumptions, prices, options)[0]


def model_plan(
    profile: Profile,
    deadline: float,
    table: Table | None,
    assumptions: Assumptions,
    prices: Prices | None = None,
    options: ModelOptions | None = None,
) -> tuple[Plan, ModelPlan]:
    """The plan, and the simulation it comes from (for the chart)."""
    options = options or ModelOptions()
    prices = prices or load_prices()
    u = assumptions.units_per_update
    needed = required_rate(profile, deadline) * u
    chosen = table is None
    table = table or Table(max(1, math.ceil(needed / BUDGET_SHARE)) if math.isfinite(needed) else 1)
    setting = _setting(profile, deadline, table, assumptions, options, chosen)
    write_rate = round(table.takes_now * BUDGET_SHARE, 1)
    fixed = None if chosen else _knobs(write_rate, table, assumptions, options, grow=False)
    modelled = plan_peak(setting, needed if math.isfinite(needed) else write_rate, fixed)
    knobs, result = modelled.knobs, modelled.result
    needed_wcu = math.inf if math.isinf(needed) else math.ceil(needed / BUDGET_SHARE)
    prewarm = None
    if not math.isinf(needed_wcu) and needed_wcu > table.warm:
        prewarm = min(int(needed_wcu), table.capacity) if table.on_demand else int(needed_wcu)
    if chosen:
        table = Table(knobs.capacity)
        prewarm = None
    drain = result.last_write if result.drained else math.inf
    return Plan(
        updates=profile.total,
        deadline_seconds=deadline,
        write_rate=knobs.write_rate,
        needed_write_rate=round(needed, 1),
        concurrency=knobs.concurrency,
        batch_size=knobs.batch_size,
        batching_window=WINDOW_FOR_LARGE_BATCHES if knobs.batch_size > UNWINDOWED_BATCH_LIMIT else 0,
        drain_seconds=drain,
        deadline_met=modelled.met and batch_size_for(knobs.write_rate, knobs.concurrency, assumptions) >= 1,
        prewarm_wcu=prewarm,
        updates_per_message=assumptions.updates_per_message,
        advice=_advice(table, needed_wcu, batch_size_for(knobs.write_rate, knobs.concurrency, assumptions)),
        assumptions=[*assumptions.lines(), *_model_assumptions(options)],
        cost=_drain_cost(profile.total, drain, knobs.concurrency, table, assumptions, prices),
        model=model_summary(modelled, setting, prices, options.start),
        ideal_seconds=finish_time(profile, knobs.write_rate / u),
    ), modelled


def _knobs(rate: float, table: Table, assumptions: Assumptions, options: ModelOptions, *, grow: bool) -> Knobs:
    """C and the batch for ``rate``; the table as given, or (``grow``) one that takes ``rate``."""
    concurrency = concurrency_for(rate, assumptions)
    batch = max(1, batch_size_for(rate, concurrency, assumptions))
    capacity = max(table.capacity, math.ceil(rate / BUDGET_SHARE)) if grow else table.capacity
    if table.on_demand:
        warm = max(table.warm, math.ceil(rate / BUDGET_SHARE)) if grow else table.warm
        spec = TableSpec(on_demand=True, max_units=capacity, warm_units=warm)
    elif options.auto_scaling is not None:
        low, high = options.auto_scaling
        spec = autoscaled(TableSpec(low), low, max(high, capacity) if grow else high)
    else:
        spec = TableSpec(capacity)
    return Knobs(rate, concurrency, batch, spec)


def _setting(
    profile: Profile, deadline: float, table: Table, assumptions: Assumptions, options: ModelOptions, chosen: bool
) -> Setting:
    writer = WriterSpec(
        write_rate=1.0,
        concurrency=1,
        timeout=assumptions.writer_timeout,
        units_per_update=assumptions.units_per_update,
        updates_per_message=assumptions.updates_per_message,
        execution_wcu=assumptions.execution_wcu,
        invocation_overhead=options.invocation_overhead,
        share_mode=options.share_mode,
    )
    base = Table(1) if chosen and not table.on_demand else table

    def choose(rate: float) -> Knobs:
        return _knobs(rate, base, assumptions, options, grow=True)

    return Setting(profile, deadline, writer, Mapping(), choose)


def _model_assumptions(options: ModelOptions) -> list[str]:
    return [
        f"simulated (nicelist.model): SQS oldest-first, Lambda's poller ramp (5 batches, +300 a minute, to 1,250), "
        f"{options.invocation_overhead:g} s per invocation (--invocation-overhead), share {options.share_mode} "
        "(--share-mode), DynamoDB burst credit, partitions, on-demand doubling, auto scaling",
    ]


def _drain_cost(
    updates: float, drain: float, concurrency: int, table: Table, assumptions: Assumptions, prices: Prices
) -> dict[str, Any]:
    bill = drain_bill(
        updates=updates,
        units_per_update=assumptions.units_per_update,
        drain_seconds=drain,
        concurrency=concurrency,
        messages=updates / assumptions.updates_per_message,
        table_wcu=table.capacity,
        prices=prices,
    )
    dynamodb = bill.dynamodb_on_demand if table.on_demand else bill.dynamodb_provisioned
    return {
        "dollars": round(dynamodb + bill.lambda_requests + bill.lambda_compute, 4),
        "dynamodb": round(dynamodb, 4),
        "writer_lambda": round(bill.lambda_requests + bill.lambda_compute, 4),
        "prices": f"{prices.region} as of {prices.as_of}",
    }


def _advice(table: Table, needed_wcu: float, batch: int) -> list[str]:
    advice = []
    if math.isinf(needed_wcu):
        advice.append("updates still arrive at the deadline: no rate meets it; move the deadline past the profile")
    elif needed_wcu > table.takes_now:
        if needed_wcu > table.capacity and table.on_demand:
            advice.append(f"raise the table's maximum write throughput to >= {needed_wcu} WCU")
        elif not table.on_demand:
            advice.append(f"raise the table's provisioned WCU to >= {needed_wcu} (UpdateTable)")
        if needed_wcu > table.warm:
            advice.append(
                f"pre-warm the table before the peak: WarmThroughput WriteUnitsPerSecond >= {needed_wcu} "
                f"(it takes {table.warm} at once now; allow time, AWS advises a day for large changes)"
            )
        advice.append("then plan again with the new --table-wcu / --warm-wcu")
    if batch < 1:
        advice.append("one message takes longer than the writer's timeout at this share: fewer updates per message")
    if batch > UNWINDOWED_BATCH_LIMIT:
        advice.append(
            f"a batch above {UNWINDOWED_BATCH_LIMIT} needs a {WINDOW_FOR_LARGE_BATCHES} s window, so the queue's "
            "visibility must be >= 6 x timeout + 1 s: `nicelist provision --writer-timeout` one second longer"
        )
    return advice


def _duration(seconds: float) -> str:
    return "never" if math.isinf(seconds) else str(dt.timedelta(seconds=round(seconds)))


def _dollars(amount: float) -> str:
    """Cents, and two significant digits for a rehearsal's fractions of a cent."""
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.2g}"


def _lines(plan: Plan) -> list[str]:
    verdict = "met" if plan.deadline_met else "NOT met"
    lines = [
        f"updates to write   {plan.updates:,.0f}",
        f"write rate (W)     {plan.write_rate:g} WCU/s   (needed for the deadline: {plan.needed_write_rate:g})",
        f"concurrency (C)    {plan.concurrency}   (share W/C = {plan.write_rate / plan.concurrency:.1f} WCU/s)",
        f"batch size         {plan.batch_size}   (batching window {plan.batching_window} s)",
        f"drain time         {_duration(plan.drain_seconds)}   (closed form {_duration(plan.ideal_seconds)})",
        f"deadline           {_duration(plan.deadline_seconds)}: {verdict}",
        "pre-warm           " + ("no" if plan.prewarm_wcu is None else f"yes, to {plan.prewarm_wcu} WCU"),
    ]
    if plan.cost:
        cost = plan.cost
        lines.append(
            f"drain cost         {_dollars(cost['dollars'])}   (DynamoDB {_dollars(cost['dynamodb'])}, writer Lambda "
            f"{_dollars(cost['writer_lambda'])}; {cost['prices']}; SQS and the API not included)"
        )
    if plan.model:
        lines += summary_lines(plan.model)
    lines += [f"advice: {line}" for line in plan.advice]
    lines += [f"assumes: {line}" for line in plan.assumptions]
    return lines


@click.command("plan")
@click.option("--backlog", type=click.FloatRange(min=0), default=None, help="Updates waiting now.")
@click.option(
    "--arrivals",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV seconds_from_now,updates_per_second; the last row (rate 0) ends the profile.",
)
@click.option(
    "--profile",
    "day",
    type=click.Choice(["december-23"]),
    default=None,
    help="The built-in day: --updates over 23 December in the table's region (the deadline: 24 December 00:00).",
)
@click.option("--updates", type=click.FloatRange(min=1), default=DECEMBER_23_UPDATES, show_default=True,
              help="With --profile: the day's updates.")  # fmt: skip
@click.option("--spike-factor", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Multiply the arrivals (2: the spike twice as big).")  # fmt: skip
@click.option("--region", default="us-east-1", show_default=True, help="The table's region (its time zone).")
@click.option("--time-zone", default=None, help="Override the region's time zone (an IANA name).")
@click.option("--deadline", default=None, help="When all must be written: 90m, 1h30m, 06:00, or an ISO time.")
@click.option(
    "--table-wcu",
    type=click.IntRange(min=1),
    default=None,
    help="The table's provisioned WCU (omit: the plan chooses).",
)
@click.option(
    "--auto-scaling", default=None, metavar="MIN:MAX", help="Provisioned with auto scaling between MIN and MAX WCU."
)
@click.option("--on-demand", is_flag=True, help="An on-demand table (with --max-wcu).")
@click.option("--max-wcu", type=click.IntRange(min=1), default=None, help="On-demand: maximum write throughput.")
@click.option(
    "--warm-wcu",
    type=click.IntRange(min=1),
    default=None,
    help="Write units/s the table takes at once now (DescribeTable WarmThroughput).",
)
@click.option(
    "--units-per-update",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_UNITS_PER_UPDATE,
    show_default=True,
    help="Write units per update after coalescing (BENCHMARKS.md).",
)
@click.option("--updates-per-message", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True)
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_BATCH_SIZE),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="The largest batch to consider.",
)
@click.option("--writer-timeout", type=click.IntRange(1, 900), default=DEFAULT_WRITER_TIMEOUT, show_default=True)
@click.option(
    "--execution-wcu",
    type=click.FloatRange(min=0, min_open=True),
    default=ASSUMED_EXECUTION_WCU,
    show_default=True,
    help="WCU/s one writer execution can spend.",
)
@click.option(
    "--max-concurrency",
    type=click.IntRange(MIN_MAXIMUM_CONCURRENCY, MAX_MAXIMUM_CONCURRENCY),
    default=MAX_MAXIMUM_CONCURRENCY,
    show_default=True,
    help="Most executions the account allows.",
)
@click.option(
    "--prices",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A price table (TOML, the keys of nicelist/prices.toml) for the drain's cost.",
)
@click.option("--share-mode", type=click.Choice(["live", "static"]), default="live", show_default=True,
              help="Split W by the executions running (live, the writer's default) or by C.")  # fmt: skip
@click.option("--invocation-overhead", type=click.FloatRange(min=0), default=DEFAULT_INVOCATION_OVERHEAD,
              show_default=True, help="Seconds per batch beyond its writes (poll, invoke, delete).")  # fmt: skip
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw backlog and write rate over the run (PNG).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (input for `nicelist tune --plan`).")
def plan_command(**values: Any) -> None:  # fmt: skip
    """Plan a peak: write rate, concurrency and batch size (and the table, unless given) for a backlog, an
    arrival profile or the built-in 23 December; whether the deadline is met (simulated), the cost
    against writing straight to the table, and what breaks first at twice the spike. Exit 1 when the
    deadline is not met."""
    try:
        prices = load_prices(values["prices"])
        start, zone = _start(values)
        profile = _profile(values).scaled(values["spike_factor"])
        options = ModelOptions(
            values["share_mode"], values["invocation_overhead"], _auto(values["auto_scaling"]), start
        )
        plan, modelled = model_plan(
            profile, _deadline(values, start), _table(values), _assumptions(values), prices, options
        )
    except (PlanError, PriceError, ValueError) as error:
        raise click.UsageError(str(error)) from error
    if values["chart"] is not None:
        title = f"{plan.updates:,.0f} updates, W {plan.write_rate:,.0f} WCU/s, C {plan.concurrency} ({zone})"
        draw(values["chart"], modelled.result, plan.deadline_seconds, start, title)
    emit(plan.as_dict(), as_json=values["as_json"], lines=_lines(plan))
    if not plan.deadline_met:
        raise SystemExit(1)


def _profile(values: dict[str, Any]) -> Profile:
    backlog = values["backlog"] or 0.0
    if values["day"] is not None:
        if values["arrivals"] is not None:
            raise PlanError("give --profile or --arrivals, not both")
        day = december_23(values["updates"])
        return Profile(backlog, day.starts, day.rates, day.end)
    if values["arrivals"] is not None:
        return read_arrivals(values["arrivals"], backlog)
    if values["backlog"] is None:
        raise PlanError("give --backlog N, --arrivals CSV and/or --profile december-23")
    return Profile(backlog=backlog)


def _start(values: dict[str, Any]) -> tuple[dt.datetime | None, str]:
    """Time 0: 23 December 00:00 in the table's region for the built-in day; otherwise now."""
    name = values["time_zone"] or REGION_TIME_ZONES.get(values["region"])
    if name is None:
        raise PlanError(f"no time zone known for {values['region']!r}: give --time-zone")
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise PlanError(f"unknown time zone {name!r}") from error
    if values["day"] is None:
        return dt.datetime.now(zone).replace(microsecond=0), name
    year = dt.datetime.now(zone).year
    return dt.datetime(year, 12, 23, tzinfo=zone), name


def _deadline(values: dict[str, Any], start: dt.datetime | None) -> float:
    if values["deadline"] is None:
        if values["day"] is None or start is None:
            raise PlanError("give --deadline (or --profile december-23: 24 December 00:00 in the table's region)")
        return float(DAY_SECONDS)
    seconds = parse_deadline(values["deadline"], start or dt.datetime.now(dt.UTC))
    if seconds <= 0:
        raise PlanError(f"the deadline {values['deadline']!r} has passed")
    return seconds


def _table(values: dict[str, Any]) -> Table | None:
    on_demand, wcu, most = values["on_demand"], values["table_wcu"], values["max_wcu"]
    if on_demand != (most is not None) or (on_demand and wcu is not None):
        raise PlanError("give --table-wcu W (provisioned), --on-demand --max-wcu M, or neither (the plan chooses)")
    if on_demand:
        return Table(int(most), True, values["warm_wcu"])
    if values["auto_scaling"] is not None:
        return Table(_auto(values["auto_scaling"])[1])  # type: ignore[index]
    return None if wcu is None else Table(int(wcu), False, values["warm_wcu"])


def _auto(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    match = re.fullmatch(r"(\d+):(\d+)", text.strip())
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise PlanError(f"--auto-scaling {text!r}: MIN:MAX WCU with 1 <= MIN <= MAX")
    return int(match[1]), int(match[2])


def _assumptions(values: dict[str, Any]) -> Assumptions:
    return Assumptions(**{name: values[name] for name in Assumptions.__dataclass_fields__})


def read_plan(path: Path) -> dict[str, Any]:
    """The ``apply`` values of a plan written by ``nicelist plan --json``, plus ``updates_per_message``
    (the plan's assumption, or None in a plan written before it was recorded)."""
    try:
        plan = jsonio.loads(path.read_text())
        values = plan["apply"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PlanError(f"{path}: not a plan from `nicelist plan --json` ({error})") from error
    if not isinstance(values, dict) or set(values) != {"write_rate", "concurrency", "batch_size", "batching_window"}:
        raise PlanError(f"{path}: the plan's apply section has unexpected keys")
    mix = plan.get("updates_per_message")
    valid_mix = isinstance(mix, int | float) and not isinstance(mix, bool) and 0 < mix < float("inf")
    return {**values, "updates_per_message": float(mix) if valid_mix else None}
