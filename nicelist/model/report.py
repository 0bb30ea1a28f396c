"""The model's answer in words, numbers and a chart: what ``nicelist plan`` prints and draws."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from nicelist.cost import Prices
from nicelist.model.planner import ModelPlan, Setting, costs


def model_summary(plan: ModelPlan, setting: Setting, prices: Prices, start: dt.datetime | None) -> dict[str, Any]:
    result, knobs = plan.result, plan.knobs
    bill = costs(result, prices)
    table = knobs.table
    kind = "on-demand" if table.on_demand else ("auto scaled" if table.autoscaling else "provisioned")
    minimum = table.autoscaling.minimum if table.autoscaling else None
    peak_age_at = result.series.time[result.series.oldest_age.index(result.peak_age)] if result.series.time else 0.0
    return {
        "table": {
            "mode": kind,
            "wcu": knobs.capacity,
            "minimum": minimum,
        },
        "finish_seconds": result.last_write if result.drained else None,
        "finish_at": _at(start, result.last_write),
        "deadline_at": _at(start, setting.deadline),
        "spare_seconds": setting.deadline - result.last_write if result.drained else None,
        "peak_oldest_age_seconds": round(result.peak_age),
        "peak_oldest_age_at": _at(start, peak_age_at),
        "peak_write_wcu_s": round(result.peak_written, 1),
        "throttled_share": round(result.throttled_share, 5),
        "peak_concurrency": result.peak_running,
        "batches": result.batches,
        "deferred_updates": round(result.deferred_updates),
        "cost": {
            "dollars": round(bill.total, 2),
            "dynamodb": round(bill.dynamodb, 2),
            "writer_lambda": round(bill.writer_lambda, 2),
            "sqs_consumer": round(bill.sqs_consumer, 2),
            "direct_on_demand": round(bill.direct_on_demand, 2),
            "direct_provisioned_for_peak": round(bill.direct_provisioned, 2),
            "direct_peak_wcu": math.ceil(bill.direct_peak_wcu),
        },
        "at_twice_the_spike": plan.breaks_first,
        "runs": plan.runs,
        "seconds": round(plan.seconds, 2),
        "tick_seconds": result.scenario.dt,
    }


def _at(start: dt.datetime | None, seconds: float) -> str | None:
    if start is None or not math.isfinite(seconds):
        return None
    return (start + dt.timedelta(seconds=round(seconds))).isoformat(timespec="minutes")


def summary_lines(model: dict[str, Any]) -> list[str]:
    """The plan's model section for the terminal."""
    table, cost = model["table"], model["cost"]
    shape = f"{table['mode']} {table['wcu']:,} WCU" + (f" (from {table['minimum']:,})" if table["minimum"] else "")
    spare = model["spare_seconds"]
    if spare is None:
        verdict = "never drains"
    else:
        verdict = f"{_span(spare)} before the deadline" if spare >= 0 else f"{_span(-spare)} LATE"
    if model["deadline_at"]:
        verdict += f"; deadline {model['deadline_at']}"
    finish = model["finish_at"] or (_span(model["finish_seconds"]) if model["finish_seconds"] is not None else "never")
    age_at = f" (at {model['peak_oldest_age_at']})" if model["peak_oldest_age_at"] else ""
    lines = [
        f"table              {shape}",
        f"last write         {finish}   ({verdict})",
        f"oldest update      peaks at {_span(model['peak_oldest_age_seconds'])}{age_at}",
        f"table writes       peak {model['peak_write_wcu_s']:,.0f} WCU/s, {model['throttled_share']:.2%} throttled",
        f"Lambda             peak {model['peak_concurrency']} executions, {model['batches']:,} invocations",
        f"day's cost         ${cost['dollars']:,.2f} (DynamoDB ${cost['dynamodb']:,.2f}, writer Lambda "
        f"${cost['writer_lambda']:,.2f}, SQS receives/deletes ${cost['sqs_consumer']:,.2f})",
        f"writing straight   on-demand ${cost['direct_on_demand']:,.2f}, or provisioned for the peak "
        f"({cost['direct_peak_wcu']:,} WCU) all day ${cost['direct_provisioned_for_peak']:,.2f}",
    ]
    lines += [f"at 2x the spike    {line}" for line in model["at_twice_the_spike"]]
    runs = f"{model['runs']} simulations in {model['seconds']:.1f} s ({model['tick_seconds']:g} s ticks)"
    return [*lines, f"model              {runs}"]


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s" if seconds >= 60 else f"{seconds:.0f} s"
