"""throttle: the table at a third of the capacity the writers budget for, plus injected throttles, while the
operator lowers and then raises the drain rate mid-spike.

The writers' budget W is set for a table of 150 WCU/s; the meter lets the table take only 50, and
refuses a share of the calls on top (``throttle_share``), so most attempts are throttled. Half-way
through the spike the operator lowers the rate with ``nicelist rate`` and later raises it back, as
someone reacting to the alarm would. Throttling alone must never cost an update or send one to the
DLQ: it may only make the drain slower.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.faults.harness import Result, Run, profile, standard
from loadtests.faults.traffic import Tally, workload

NEEDED = 150  # WCU/s the writers' budget is set for (the table as provisioned)


@dataclass(frozen=True, slots=True)
class Plan:
    updates: int
    children: int
    rate: float  # updates per second during the spike
    table: int  # WCU/s the meter lets the table take: a third of NEEDED
    throttle_share: float
    rate_changes: tuple[tuple[float, float], ...]  # (seconds after the spike started, new W)


QUICK = Plan(450, 150, 60.0, NEEDED // 3, 0.2, ((3.0, 20.0), (7.0, 145.0)))
LONG = Plan(2400, 600, 80.0, NEEDED // 3, 0.2, ((8.0, 20.0), (20.0, 145.0)))


def _operator(stage: Run, changes: tuple[tuple[float, float], ...], started: float, log: list[Any]) -> None:
    """``nicelist rate W`` at the planned moments, as an operator at a terminal would."""
    for at, rate in changes:
        time.sleep(max(0.0, started + at - time.monotonic()))
        done = stage.nicelist("rate", f"{rate:g}", "--json")
        answer = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr.strip()[-300:]}
        log.append({"at_s": round(time.monotonic() - started, 1), "rate": rate, "exit": done.returncode, **answer})


def run(run_dir: Path, quick: bool, seed: int, skip: frozenset[str] = frozenset()) -> Result:
    size, plan = profile(quick), QUICK if quick else LONG
    result = Result("throttle", quick)
    updates = workload(plan.updates, plan.children, seed)
    changes: list[Any] = []
    with Run("throttle", run_dir, size, capacity=NEEDED) as stage:
        stage.set_capacity(plan.table)
        stage.stack.inject(throttle_share=plan.throttle_share)
        tally = Tally()
        started = time.monotonic()
        operator = threading.Thread(target=_operator, args=(stage, plan.rate_changes, started, changes))
        operator.start()
        stage.producer(tally).send(updates, plan.rate, size.array)
        operator.join()
        drain = stage.wait_drained()
        recon = stage.reconcile(tally.acknowledged, tally.attempted)
        dead = stage.census()
        meter, runtime = stage.meter(), stage.runtime_stats()
    standard(result, recon, dead, drain, len(tally.attempted), len(tally.acknowledged))
    totals, faults = meter["totals"], meter["faults"]
    result.figures.update(
        {
            "writers' budget W / table capacity (WCU/s)": f"{NEEDED * 0.97:g} / {plan.table}",
            "injected throttle share": plan.throttle_share,
            "operator rate changes": [f"+{c['at_s']} s: W={c['rate']:g} (exit {c['exit']})" for c in changes],
            "write units accepted / refused by the meter": f"{totals.get('units')} / {totals.get('throttled_units')}",
            "throttle answers (capacity + injected)": totals.get("throttle_events"),
            "injected: requests refused / batch items unprocessed": (
                f"{faults.get('injected_throttles')} / {faults.get('injected_unprocessed')}"
            ),
            "peak WCU/s seen by the table": meter["peak_units_per_second"],
            "messages returned to the queue by the writers": runtime.get("records_failed"),
        }
    )
    result.check("the operator's rate changes took", all(c["exit"] == 0 for c in changes), str(changes))
    result.check("nothing at all in the DLQ", not dead.letters, f"{len(dead.letters)} dead letters")
    peak = meter["peak_units_per_second"] or 0
    result.check("the table never took more than its capacity", peak <= plan.table, f"peak {peak}")
    return result
