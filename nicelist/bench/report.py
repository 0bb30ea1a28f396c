"""The benchmark's one table: figures side by side, nicelist ÷ naive, and the bill per million updates.

Every row has a value for each way (``None`` where a way has no such thing) and a ratio where both
are numbers; ``as_dict`` is what ``--json`` prints and what the CI smoke test checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nicelist.bench.load import LoadFigures
from nicelist.bench.producers import SqsFigures
from nicelist.bench.run import Measurements
from nicelist.bench.workload import BATCH_MESSAGES, ENVELOPE_UPDATES
from nicelist.cost import (
    API_MEMORY_MB,
    WRITER_MEMORY_MB,
    Bill,
    Prices,
    Usage,
    bill,
    consumer_sqs_requests,
    gb_seconds,
    wcu_hours,
)

Value = float | int | bool | None


@dataclass(frozen=True, slots=True)
class Row:
    section: str
    label: str
    nicelist: Value
    naive: Value

    @property
    def ratio(self) -> float | None:
        ours, theirs = self.nicelist, self.naive
        if isinstance(ours, bool) or isinstance(theirs, bool) or ours is None or not theirs:
            return None
        return ours / theirs

    def as_dict(self) -> dict[str, Any]:
        return {"section": self.section, "label": self.label, "nicelist": self.nicelist, "naive": self.naive,
                "ratio": None if self.ratio is None else round(self.ratio, 4)}  # fmt: skip


def rows(m: Measurements) -> list[Row]:
    return [*_sqs_rows(m), *_dynamodb_rows(m), *_throughput_rows(m), *_cpu_rows(m), *_meter_rows(m), *_state_rows(m)]


def _sqs_rows(m: Measurements) -> list[Row]:
    sqs, naive = m.sqs, m.sqs["naive"]
    return [
        Row("SQS", "requests / 1,000 updates, API with arrays of 100", sqs["api_arrays"].per_1000, naive.per_1000),
        Row("SQS", "requests / 1,000 updates, API with single updates", sqs["api_singles"].per_1000, naive.per_1000),
        Row("SQS", "requests / 1,000 updates, SDK", sqs["sdk"].per_1000, naive.per_1000),
        Row("SQS", "billed requests (64 KiB chunks) / 1,000 updates, SDK", sqs["sdk"].billed_per_1000,
            naive.billed_per_1000),
    ]  # fmt: skip


def _dynamodb_rows(m: Measurements) -> list[Row]:
    w, n = m.writer, m.naive_consumer
    minimum = m.minimum_units
    return [
        Row("DynamoDB", "requests / 1,000 updates", w.per_1000(w.requests), n.per_1000(n.requests)),
        Row("DynamoDB", "write units / 1,000 updates", w.per_1000(w.units), n.per_1000(n.units)),
        Row("DynamoDB", f"write units / workload minimum ({w.per_1000(minimum):.1f} / 1,000)", w.units / minimum,
            n.units / minimum),
    ]  # fmt: skip


def _throughput_rows(m: Measurements) -> list[Row]:
    e2e, load = m.e2e, m.load
    w, n = m.writer, m.naive_consumer
    return [
        Row("throughput", "end-to-end updates/s through the local stack", e2e["nicelist"].updates_per_s,
            e2e["naive"].updates_per_s),
        Row("throughput", "enqueue updates/s (API arrays of 100 | SendMessage)", load["nicelist"].updates_per_s,
            load["naive"].updates_per_s),
        Row("throughput", "enqueue p50 ms per call", load["nicelist"].p50_ms, load["naive"].p50_ms),
        Row("throughput", "enqueue p99 ms per call", load["nicelist"].p99_ms, load["naive"].p99_ms),
        Row("throughput", "consumer updates/s in-process (moto's speed)", w.updates / w.seconds,
            n.updates / n.seconds),
    ]  # fmt: skip


def _cpu_rows(m: Measurements) -> list[Row]:
    cpu = m.cpu
    return [
        Row("CPU", "ms / 1,000 updates: API arrays of 100 | SendMessage each", cpu.api_arrays, cpu.naive_producer),
        Row("CPU", "ms / 1,000 updates: API single updates", cpu.api_singles, None),
        Row("CPU", "ms / 1,000 updates: JSON decoding + validation alone", cpu.floor, None),
        Row("CPU", "API arrays of 100 / decoding + validation alone", cpu.api_over_floor, None),
    ]


def _meter_rows(m: Measurements) -> list[Row]:
    ours, theirs = m.e2e["nicelist"], m.e2e["naive"]
    return [
        Row("meter", "peak one-second table write rate / capacity", ours.rates.peak_ratio, theirs.rates.peak_ratio),
        Row("meter", "drain time / ideal", ours.rates.drain_ratio, theirs.rates.drain_ratio),
        Row("meter", "share of write units throttled", ours.throttled_share, theirs.throttled_share),
    ]


def _state_rows(m: Measurements) -> list[Row]:
    w, n = m.writer, m.naive_consumer
    ours, theirs = m.e2e["nicelist"], m.e2e["naive"]
    return [
        Row("state", "final state correct, in-process", w.verdict.exact, n.verdict.exact),
        Row("state", "registers wrong + points missing, in-process", w.verdict.lost, n.verdict.lost),
        Row("state", "final state correct, end to end", ours.correct, theirs.correct),
        Row("state", "updates lost, end to end", ours.lost, theirs.lost),
    ]


# -- the bill --------------------------------------------------------------------------------------------------------


def usages(m: Measurements, prices: Prices) -> dict[str, Usage]:
    """Per update, for each way: sends and units measured in-process, Lambda and drain from end to end."""
    chunk = prices.sqs_chunk_bytes
    w, n = m.writer, m.naive_consumer
    ours, theirs = m.e2e["nicelist"], m.e2e["naive"]
    api, sdk, naive = m.sqs["api_arrays"], m.sqs["sdk"], m.sqs["naive"]

    def sqs(sent: SqsFigures) -> float:
        per = 1 / sent.updates
        return sent.billed * per + consumer_sqs_requests(sent.messages * per, sent.bytes_sent * per, chunk)

    writer_gb_s = gb_seconds(ours.invocation_seconds, WRITER_MEMORY_MB) / max(1, ours.updates)
    api_seconds = api.seconds / max(1, api.http_requests)  # wall time per request, in-process against moto
    per_request = api.http_requests / api.updates
    nicelist_units = w.units / w.updates
    writer_invocations = ours.invocations / max(1, ours.updates)
    via_api = Usage(
        sqs_requests=sqs(api),
        lambda_requests=writer_invocations + per_request,
        lambda_gb_seconds=writer_gb_s + per_request * gb_seconds(api_seconds, API_MEMORY_MB),
        write_units=nicelist_units,
        wcu_hours=wcu_hours(nicelist_units, ours.rates.drain_ratio),
        api_requests=per_request,
    )
    via_sdk = Usage(
        sqs_requests=sqs(sdk),
        lambda_requests=sdk.messages / sdk.updates / 10,
        lambda_gb_seconds=writer_gb_s,
        write_units=nicelist_units,
        wcu_hours=wcu_hours(nicelist_units, ours.rates.drain_ratio),
    )
    naive_units = n.units / n.updates
    baseline = Usage(
        sqs_requests=sqs(naive),
        lambda_requests=theirs.invocations / max(1, theirs.updates),
        lambda_gb_seconds=gb_seconds(theirs.invocation_seconds, WRITER_MEMORY_MB) / max(1, theirs.updates),
        write_units=naive_units,
        wcu_hours=wcu_hours(naive_units, theirs.rates.drain_ratio),
    )
    return {"nicelist_api": via_api, "nicelist_sdk": via_sdk, "naive": baseline}


WAYS = {"nicelist_api": "nicelist, API", "nicelist_sdk": "nicelist, SDK", "naive": "naive"}


def bills(m: Measurements, prices: Prices) -> dict[str, Bill]:
    return {name: bill(usage, prices) for name, usage in usages(m, prices).items()}


# -- output ----------------------------------------------------------------------------------------------------------


def _fmt(value: Value) -> str:
    """Three significant figures or so, thousands separated; yes/no for booleans, - for nothing."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or math.isnan(value):
        return f"{value:,}"
    magnitude = abs(value)
    decimals = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2 if magnitude >= 1 else 3
    return f"{value:,.{decimals}f}"


def _money(dollars: float) -> str:
    """Cents to four decimals; below a cent, enough digits to see it is not nothing."""
    return "0" if dollars == 0 else f"{dollars:.4f}" if dollars >= 0.01 else f"{dollars:.6f}"


def render(m: Measurements, prices: Prices, header: list[str]) -> str:
    width = 62
    lines = [*header, "", f"{'':{width}} {'nicelist':>10} {'naive':>10} {'ratio':>8}"]
    section = ""
    for row in rows(m):
        if row.section != section:
            section = row.section
            lines.append(f"{section}")
        ratio = "-" if row.ratio is None else f"{row.ratio:.3g}"
        lines.append(f"  {row.label:{width - 2}} {_fmt(row.nicelist):>10} {_fmt(row.naive):>10} {ratio:>8}")
    if m.memory:
        lines.append(
            f"writer memory, one invocation of {BATCH_MESSAGES} x {ENVELOPE_UPDATES:,} updates: tracemalloc peak "
            f"{m.memory['tracemalloc_peak_mib']} MiB, {m.memory['retained_mib']} MiB retained (moto's table included)"
        )
    lines += ["", f"AWS bill per million updates, USD ({prices.region} list prices as of {prices.as_of}, "
              "nicelist/prices.toml; free tiers left out)"]  # fmt: skip
    computed = bills(m, prices)
    lines.append(f"{'':{width}} " + " ".join(f"{label:>14}" for label in WAYS.values()))
    names = [label for label, _ in next(iter(computed.values())).lines()]
    for index, label in enumerate(names):
        values = [f"{_money(b.lines()[index][1]):>14}" for b in computed.values()]
        lines.append(f"  {label:{width - 2}} " + " ".join(values))
    return "\n".join(lines)


def as_dict(m: Measurements, prices: Prices, meta: dict[str, Any]) -> dict[str, Any]:
    computed = usages(m, prices)
    return {
        **meta,
        "rows": [row.as_dict() for row in rows(m)],
        "cost": {
            "prices": prices.as_dict(),
            "per_million_updates": {name: bill(usage, prices).as_dict() for name, usage in computed.items()},
            "usage_per_update": {name: _usage(usage) for name, usage in computed.items()},
        },
        "details": _details(m),
    }


def _usage(usage: Usage) -> dict[str, float]:
    return {name: getattr(usage, name) for name in Usage.__dataclass_fields__}


def _details(m: Measurements) -> dict[str, Any]:
    e2e = {
        name: {
            "updates": run.updates, "seconds": round(run.seconds, 1), "lost": run.lost,
            "invocations": run.invocations, "invocation_seconds": round(run.invocation_seconds, 1),
            "sqs_consumer_requests": run.sqs_consumer_requests, "dead_lettered": run.dead_lettered,
            "peak_units_per_second": run.rates.peak_units_per_second, "total_units": run.rates.total_units,
            "throttled_units": run.rates.throttled_units, "drain_seconds": run.rates.drain_seconds,
            "ideal_drain_seconds": round(run.rates.ideal_drain_seconds, 1),
        }
        for name, run in m.e2e.items()
    }  # fmt: skip
    return {
        "minimum_units": m.minimum_units,
        "distinct_updates": m.distinct_updates,
        "dynamodb_by_operation": {"nicelist": m.writer.by_operation, "naive": m.naive_consumer.by_operation},
        "writer_memory": m.memory,
        "sqs": {name: _sqs_details(f) for name, f in m.sqs.items()},
        "end_to_end": e2e,
        "load": {name: _load_details(f) for name, f in m.load.items()},
        "part_seconds": {name: round(value, 1) for name, value in m.seconds.items()},
    }


def _sqs_details(sent: SqsFigures) -> dict[str, Any]:
    return {"requests": sent.requests, "billed": sent.billed, "messages": sent.messages, "bytes": sent.bytes_sent,
            "updates": sent.updates, "api_requests": sent.http_requests, "seconds": round(sent.seconds, 2)}  # fmt: skip


def _load_details(load: LoadFigures) -> dict[str, Any]:
    return {"calls": load.calls, "errors": load.errors, "updates": load.updates, "seconds": round(load.seconds, 1)}
