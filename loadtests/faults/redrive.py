"""redrive: updates fail into the DLQ, the cause is fixed, ``nicelist dlq redrive`` brings them back, even when
the redrive itself is killed midway and run again.

Two ways in: the table is made missing for a while (the meter answers ``ResourceNotFoundException``,
the writers fail those messages whole and SQS's redrive policy moves them to the DLQ after
``maxReceiveCount`` deliveries; long version only, it takes five visibility timeouts), and messages
sent straight to the DLQ, as an earlier bad day would have left them. Some of the dead updates are
older than what the table holds by then and some newer, so a redrive that reordered or duplicated
anything would show in the state. The first redrive is SIGKILLed once it has moved part of the DLQ;
running the command again must finish the job.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.envelope import compact, encode_envelope
from loadtests.faults.harness import ROOT, Result, Run, profile, standard
from loadtests.faults.traffic import Tally, parsed, send_bodies, workload
from loadtests.faults.verify import Census, item_mismatches

WRITER_TIMEOUT = 5  # visibility 30 s: five deliveries to the DLQ take 2.5 minutes, not 5


@dataclass(frozen=True, slots=True)
class Plan:
    updates: int
    children: int
    dead_share: float  # of the updates, sent straight to the DLQ
    missing_table_updates: int  # sent through the API while the table is missing (0: skip that path)
    kill_at: float  # share of the DLQ moved when the first redrive is killed
    kill_in_flight: bool  # ... and then only while it holds received messages (the worst moment)


QUICK = Plan(updates=700, children=150, dead_share=0.4, missing_table_updates=0, kill_at=0.3, kill_in_flight=False)
LONG = Plan(updates=3000, children=500, dead_share=0.4, missing_table_updates=200, kill_at=0.3, kill_in_flight=True)


def _dead_bodies(updates: list[dict[str, Any]], rng: random.Random) -> list[str]:
    bodies, cursor = [], 0
    while cursor < len(updates):
        take = 1 if rng.random() < 0.5 else rng.randrange(2, 6)
        chunk = updates[cursor : cursor + take]
        cursor += take
        bodies.append(compact(chunk[0]) if len(chunk) == 1 else encode_envelope(chunk))
    return bodies


def _fail_into_dlq(stage: Run, tally: Tally, updates: list[dict[str, Any]]) -> dict[str, Any]:
    """The table goes missing; updates sent meanwhile climb to the DLQ; then the table comes back."""
    if not updates:
        return {}
    started = time.monotonic()
    stage.stack.inject(missing_tables=[stage.table])
    before = len(tally.acknowledged)
    stage.producer(tally).send(updates, rate=50.0, array=stage.size.array)
    messages = -(-(len(tally.acknowledged) - before) // stage.size.array)
    arrived = stage.wait_for(lambda: stage.depths()[1] >= messages and stage.depths()[0] == 0, timeout=400, interval=2)
    stage.stack.inject(missing_tables=[])
    return {"table missing for (s)": round(time.monotonic() - started), "all reached the DLQ": arrived}


def _killed_redrive(stage: Run, kill_at: float, in_flight: bool) -> dict[str, Any]:
    """Start ``nicelist dlq redrive --method copy`` and SIGKILL it once ``kill_at`` of the DLQ has moved;
    with ``in_flight``, at a moment it holds received messages (the worst case: they stay invisible for
    the redrive's hold of 60 s), within 3 s. Without, wherever it is (the quick case: often holding some)."""
    start = stage.depths()[1]
    process = subprocess.Popen(stage.nicelist_argv("dlq", "redrive", "--method", "copy"), env=stage.nicelist_env(),
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    while process.poll() is None and _visible_in_dlq(stage) > start * (1 - kill_at):
        time.sleep(0.02)
    grace = time.monotonic() + 3.0
    while process.poll() is None and in_flight and time.monotonic() < grace and _in_flight_in_dlq(stage) == 0:
        time.sleep(0.01)
    finished_first = process.poll() is not None
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(0.5)
    total, stuck = stage.depths()[1], _in_flight_in_dlq(stage)
    return {"dlq_before": start, "killed": not finished_first, "dlq_after_kill": total, "stuck_in_flight": stuck}


def _visible_in_dlq(stage: Run) -> int:
    attributes = stage.sqs().get_queue_attributes(
        QueueUrl=stage.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _in_flight_in_dlq(stage: Run) -> int:
    names = ["ApproximateNumberOfMessagesNotVisible"]
    return int(stage.sqs().get_queue_attributes(QueueUrl=stage.dlq_url, AttributeNames=names)["Attributes"][names[0]])


def _resume(stage: Run, limit: float) -> list[dict[str, Any]]:
    """Run ``nicelist dlq redrive`` again until the DLQ is empty (what it cannot see yet, it cannot move)."""
    runs: list[dict[str, Any]] = []
    started = time.monotonic()
    while stage.depths()[1] > 0 and time.monotonic() - started < limit:
        if _visible_in_dlq(stage) == 0:
            time.sleep(1.0)  # only messages the killed run had received: invisible until their timeout
            continue
        done = stage.nicelist("dlq", "redrive", "--json")
        answer = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr.strip()[-200:]}
        runs.append({"at_s": round(time.monotonic() - started, 1), "exit": done.returncode,
                     "moved": answer.get("moved"), "method": answer.get("method")})  # fmt: skip
    return runs


def run(run_dir: Path, quick: bool, seed: int, skip: frozenset[str] = frozenset()) -> Result:
    size, plan = profile(quick), QUICK if quick else LONG
    result = Result("redrive", quick)
    rng = random.Random(seed)
    updates = workload(plan.updates, plan.children, seed)
    rng.shuffle(updates)
    split = int(len(updates) * plan.dead_share)
    dead, live = updates[:split], updates[split:]
    outage = workload(plan.missing_table_updates, plan.children, seed + 1)
    with Run("redrive", run_dir, size, writer_timeout=WRITER_TIMEOUT) as stage:
        tally = Tally()
        failed = _fail_into_dlq(stage, tally, outage)
        send_bodies(stage.sqs(), stage.dlq_url, _dead_bodies(dead, rng))
        stage.producer(tally).send(live, rate=150.0, array=size.array)
        stage.wait_drained()
        before = stage.census()
        killed = _killed_redrive(stage, plan.kill_at, plan.kill_in_flight)
        resumed_at = time.monotonic()
        runs = _resume(stage, limit=150.0)
        left = stage.depths()[1]
        empty_after = time.monotonic() - resumed_at
        drain = stage.wait_drained()
        everything = tally.acknowledged + parsed(dead)
        recon = stage.reconcile(everything, tally.attempted + parsed(dead))
        mismatches = item_mismatches(everything, stage.items())
        after = stage.census()
    standard(result, recon, after, drain, len(tally.attempted) + len(dead), len(everything))
    _report(result, failed, before, killed, runs, empty_after, mismatches)
    result.check("the DLQ emptied", left == 0, f"{left} left")
    result.check("nothing reordered or duplicated in state", mismatches == 0 and recon.registers_older == 0)
    if plan.missing_table_updates:
        result.check("the missing table sent its updates to the DLQ", bool(failed.get("all reached the DLQ")))
    return result


def _report(
    result: Result,
    failed: dict[str, Any],
    before: Census,
    killed: dict[str, Any],
    runs: list[dict[str, Any]],
    empty_after: float,
    mismatches: int,
) -> None:
    result.figures.update(
        {
            **failed,
            "DLQ before the redrive (messages / valid updates)": f"{len(before.letters)} / {len(before.valid_updates)}",
            "first redrive SIGKILLed with DLQ at": f"{killed['dlq_after_kill']} of {killed['dlq_before']} "
            f"({killed['stuck_in_flight']} received by the killed run, invisible for its 60 s)",
            "redrive runs after the kill": [f"+{r['at_s']} s: moved {r['moved']} (exit {r['exit']})" for r in runs],
            "DLQ empty after resuming (s)": round(empty_after, 1),
            "items differing from ordered delivery": mismatches,
        }
    )
    result.check("the first redrive was killed midway", killed["killed"], str(killed))
    result.check("every redrive run after the kill succeeded", bool(runs) and all(r["exit"] == 0 for r in runs))
