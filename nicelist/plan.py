"""``nicelist plan``: a first, explicit model of a peak: given what must be written and by when, and
the table, which write rate, concurrency and batch size to run, and whether the deadline is met.

The model is a fluid queue drained at a constant rate: updates arrive (a backlog now, and/or an
arrival profile of updates/s), the writers turn W WCU/s into W / u updates/s (u: write units per
update after coalescing, measured in BENCHMARKS.md). With A(s) the updates arrived before time s, the
last update is written at

    finish = max over the profile's breakpoints s of  s + (A_total - A(s)) / (W / u)

and the rate that meets a deadline D is  u x max over s < D of (A_total - A(s)) / (D - s).
Everything else (throttling, retries, poller start-up, the cost of a DLQ) is left out; the printed
assumptions say which figures carry the answer. Another issue replaces this with a simulation."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

from nicelist.console import emit
from nicelist.cost import PriceError, Prices, drain_bill, load_prices
from nicelist.local.stack import BUDGET_SHARE
from nicelist.mapping import MIN_MAXIMUM_CONCURRENCY
from nicelist.provision import ProvisionOptions
from nicelist.tuning.rules import MAX_BATCH_SIZE, MAX_MAXIMUM_CONCURRENCY, UNWINDOWED_BATCH_LIMIT
from writer.settings import WriterSettings

# BENCHMARKS.md (`nicelist bench`, "write units / 1,000 updates"): 1,375 after coalescing, on its workload.
DEFAULT_UNITS_PER_UPDATE = 1.375
# A new on-demand table takes 4,000 write units/s at once (its initial warm throughput, AWS).
ON_DEMAND_INITIAL_WARM_WCU = 4000
# Not measured: what one writer execution can spend (8 write threads at ~10 ms a conditional put is
# ~800 puts/s). Measure it from `zappa tail` ("batch done": units over duration) and pass --execution-wcu.
ASSUMED_EXECUTION_WCU = 500.0
DEADLINE_MARGIN_SECONDS = WriterSettings.model_fields["deadline_margin_ms"].default / 1000
DEFAULT_WRITER_TIMEOUT = ProvisionOptions().writer_timeout
DEFAULT_BATCH_SIZE = UNWINDOWED_BATCH_LIMIT  # fits provisioning's visibility (6 x timeout, no window)
WINDOW_FOR_LARGE_BATCHES = 1  # the least AWS accepts above UNWINDOWED_BATCH_LIMIT
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


class PlanError(ValueError):
    """An input the model cannot use; the message says which."""


@dataclass(frozen=True, slots=True)
class Profile:
    """Updates to write: ``backlog`` at time 0, then ``rates[i]`` updates/s from ``starts[i]`` to the next
    start (the last segment ends at ``end``)."""

    backlog: float = 0.0
    starts: tuple[float, ...] = ()
    rates: tuple[float, ...] = ()
    end: float = 0.0

    def arrived_before(self, time: float) -> float:
        """A(time⁻): the backlog counts from time 0 on, arrivals up to ``time``."""
        total = self.backlog if time > 0 else 0.0
        stops = (*self.starts[1:], self.end) if self.starts else ()
        for start, stop, rate in zip(self.starts, stops, self.rates, strict=True):
            total += rate * max(0.0, min(time, stop) - start)
        return total

    @property
    def total(self) -> float:
        return self.arrived_before(math.inf)

    @property
    def breakpoints(self) -> list[float]:
        return sorted({0.0, *self.starts, self.end})


def finish_time(profile: Profile, updates_per_second: float) -> float:
    """When the last update is written, draining at ``updates_per_second`` from time 0."""
    total = profile.total
    if total == 0:
        return 0.0
    return max(s + (total - profile.arrived_before(s)) / updates_per_second for s in profile.breakpoints)


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
    """CSV rows ``seconds_from_now,updates_per_second`` (a header row is skipped); each rate holds until
    the next row, and the last row, with rate 0, marks the end."""
    rows = []
    with path.open(newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip().startswith("#"):
                continue
            try:
                rows.append((float(row[0]), float(row[1])))
            except (ValueError, IndexError):
                if number == 1:
                    continue
                raise PlanError(f"{path}:{number}: expected seconds,updates_per_second") from None
    starts = [start for start, _ in rows]
    if len(rows) < 2 or rows[-1][1] != 0 or starts != sorted(set(starts)) or starts[0] < 0:
        raise PlanError(f"{path}: need increasing offsets from 0 on, and a last row with rate 0 (the end)")
    if any(rate < 0 for _, rate in rows):
        raise PlanError(f"{path}: negative rate")
    return Profile(backlog, tuple(starts[:-1]), tuple(rate for _, rate in rows[:-1]), starts[-1])


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
            f"{DEADLINE_MARGIN_SECONDS:g} s (--writer-timeout)",
            f"W = {BUDGET_SHARE:g} x what the table takes now; writes flow steadily: no throttles, retries, "
            "poller start-up or dead letters",
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
    usable = assumptions.writer_timeout - DEADLINE_MARGIN_SECONDS
    per_message = assumptions.updates_per_message * assumptions.units_per_update / (write_rate / concurrency)
    fits = math.ceil(usable / per_message) - 1 if per_message > 0 else MAX_BATCH_SIZE
    return max(0, min(assumptions.batch_size, fits, MAX_BATCH_SIZE))


def make_plan(
    profile: Profile, deadline: float, table: Table, assumptions: Assumptions, prices: Prices | None = None
) -> Plan:
    write_rate = round(table.takes_now * BUDGET_SHARE, 1)
    u = assumptions.units_per_update
    drain = finish_time(profile, write_rate / u)
    needed = required_rate(profile, deadline) * u
    needed_wcu = math.inf if math.isinf(needed) else math.ceil(needed / BUDGET_SHARE)
    concurrency = concurrency_for(write_rate, assumptions)
    batch = batch_size_for(write_rate, concurrency, assumptions)
    advice = _advice(table, needed_wcu, batch)
    prewarm = None
    if not math.isinf(needed_wcu) and needed_wcu > table.warm:
        prewarm = min(int(needed_wcu), table.capacity) if table.on_demand else int(needed_wcu)
    return Plan(
        updates=profile.total,
        deadline_seconds=deadline,
        write_rate=write_rate,
        needed_write_rate=round(needed, 1),
        concurrency=concurrency,
        batch_size=max(1, batch),
        batching_window=WINDOW_FOR_LARGE_BATCHES if batch > UNWINDOWED_BATCH_LIMIT else 0,
        drain_seconds=drain,
        deadline_met=drain <= deadline and batch >= 1,
        prewarm_wcu=prewarm,
        updates_per_message=assumptions.updates_per_message,
        advice=advice,
        assumptions=assumptions.lines(),
        cost=_drain_cost(profile.total, drain, concurrency, table, assumptions, prices or load_prices()),
    )


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
        f"drain time         {_duration(plan.drain_seconds)}",
        f"deadline           {_duration(plan.deadline_seconds)}: {verdict}",
        "pre-warm           " + ("no" if plan.prewarm_wcu is None else f"yes, to {plan.prewarm_wcu} WCU"),
    ]
    if plan.cost:
        cost = plan.cost
        lines.append(
            f"drain cost         {_dollars(cost['dollars'])}   (DynamoDB {_dollars(cost['dynamodb'])}, writer Lambda "
            f"{_dollars(cost['writer_lambda'])}; {cost['prices']}; SQS and the API not included)"
        )
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
@click.option("--deadline", required=True, help="When all must be written: 90m, 1h30m, 06:00, or an ISO time.")
@click.option("--table-wcu", type=click.IntRange(min=1), default=None, help="The table's provisioned WCU.")
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
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (input for `nicelist tune --plan`).")
def plan_command(**values: Any) -> None:  # fmt: skip
    """Plan a peak: write rate, concurrency and batch size for a backlog or an arrival profile, a deadline
    and a table; whether the deadline is met and whether to pre-warm. Exit 1 when it is not met."""
    try:
        prices = load_prices(values["prices"])
        plan = make_plan(_profile(values), _deadline(values), _table(values), _assumptions(values), prices)
    except (PlanError, PriceError, ValueError) as error:
        raise click.UsageError(str(error)) from error
    emit(plan.as_dict(), as_json=values["as_json"], lines=_lines(plan))
    if not plan.deadline_met:
        raise SystemExit(1)


def _profile(values: dict[str, Any]) -> Profile:
    backlog = values["backlog"] or 0.0
    if values["arrivals"] is not None:
        return read_arrivals(values["arrivals"], backlog)
    if values["backlog"] is None:
        raise PlanError("give --backlog N and/or --arrivals CSV")
    return Profile(backlog=backlog)


def _deadline(values: dict[str, Any]) -> float:
    seconds = parse_deadline(values["deadline"], dt.datetime.now(dt.UTC))
    if seconds <= 0:
        raise PlanError(f"the deadline {values['deadline']!r} has passed")
    return seconds


def _table(values: dict[str, Any]) -> Table:
    if values["on_demand"] == (values["table_wcu"] is not None) or values["on_demand"] != (
        values["max_wcu"] is not None
    ):
        raise PlanError("give --table-wcu W (provisioned) or --on-demand --max-wcu M")
    capacity = values["max_wcu"] if values["on_demand"] else values["table_wcu"]
    return Table(int(capacity), values["on_demand"], values["warm_wcu"])


def _assumptions(values: dict[str, Any]) -> Assumptions:
    return Assumptions(**{name: values[name] for name in Assumptions.__dataclass_fields__})


def read_plan(path: Path) -> dict[str, Any]:
    """The ``apply`` values of a plan written by ``nicelist plan --json``, plus ``updates_per_message``
    (the plan's assumption, or None in a plan written before it was recorded)."""
    try:
        plan = json.loads(path.read_text())
        values = plan["apply"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PlanError(f"{path}: not a plan from `nicelist plan --json` ({error})") from error
    if not isinstance(values, dict) or set(values) != {"write_rate", "concurrency", "batch_size", "batching_window"}:
        raise PlanError(f"{path}: the plan's apply section has unexpected keys")
    mix = plan.get("updates_per_message")
    valid_mix = isinstance(mix, int | float) and not isinstance(mix, bool) and 0 < mix < float("inf")
    return {**values, "updates_per_message": float(mix) if valid_mix else None}
