"""outage: a dependency goes away for tens of seconds and comes back, during a spike and its drain.

Two paths are cut, each while every process keeps running:

- DynamoDB, through the meter (``PUT /_meter/faults {"down": true, "mode": ...}``): ``503``
  answers, connection resets, or no answer at all (``hang``). The writers must back off, leave
  their messages on the queue, and resume when it is back.
- The network path from the enqueue API to SQS (a ``CutLine`` the stack puts in front of moto for
  the API only): connection resets, or a blackhole. The API must answer 503 with ``Retry-After``
  instead of accepting what it cannot enqueue; producers retry, and nothing acknowledged is lost.

The stack's health watcher must say what happened ("... unreachable since", "recovered after").
Not covered, by design: moto itself going away. moto keeps every queue and table in memory, so
killing it loses everything; that is the embedded AWS's nature, not a fault nicelist can survive.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.faults.harness import Result, Run, profile, standard
from loadtests.faults.traffic import Answer, Tally, label, workload

MOTO_NOTE = (
    "moto itself was not killed: it keeps its state in memory, so killing it loses every queue, message and "
    "item by design (the health watcher would report 'embedded AWS (moto) unreachable' with that warning)"
)
COMPONENT = {"sqs": "SQS from the enqueue API", "meter": "DynamoDB (meter)"}
ANSWER_WITHIN = 10.0  # seconds: a producer's request timeout; an API that answers later has not answered


@dataclass(frozen=True, slots=True)
class Cut:
    target: str  # "sqs" (the API's path to SQS) or "meter" (DynamoDB)
    mode: str  # sqs: reset | blackhole; meter: 503 | reset | hang
    at: float  # seconds after the spike started
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.target}-{self.mode}"


@dataclass(frozen=True, slots=True)
class Plan:
    updates: int
    children: int
    rate: float
    cuts: tuple[Cut, ...]


QUICK = Plan(500, 120, 100.0, (Cut("sqs", "reset", 2.0, 8.0), Cut("meter", "reset", 11.0, 10.0)))
# Long: a steady 20 updates/s for 150 s (about 30 WCU/s, under capacity), so producers are sending when
# every cut starts and a backlog builds only while DynamoDB is away, then drains.
LONG = Plan(
    3000,
    500,
    20.0,
    (
        Cut("sqs", "reset", 3.0, 30.0),
        Cut("meter", "503", 36.0, 30.0),
        Cut("meter", "reset", 70.0, 20.0),
        Cut("sqs", "blackhole", 95.0, 20.0),
        Cut("meter", "hang", 120.0, 20.0),
    ),
)


def _apply(stage: Run, cut: Cut, down: bool) -> None:
    if cut.target == "meter":
        stage.stack.inject(down=down, mode=cut.mode)
        return
    line = stage.stack.sqs_line
    assert line is not None
    if down:
        line.cut("blackhole" if cut.mode == "blackhole" else "reset")
    else:
        line.restore()


def _schedule(stage: Run, cuts: tuple[Cut, ...], started: float, done: list[tuple[Cut, float, float]]) -> None:
    for cut in sorted(cuts, key=lambda c: c.at):
        time.sleep(max(0.0, started + cut.at - time.monotonic()))
        begin = time.time()
        _apply(stage, cut, down=True)
        time.sleep(cut.seconds)
        _apply(stage, cut, down=False)
        done.append((cut, begin, time.time()))


def run(run_dir: Path, quick: bool, seed: int, skip: frozenset[str] = frozenset()) -> Result:
    size, plan = profile(quick), QUICK if quick else LONG
    cuts = tuple(cut for cut in plan.cuts if cut.name not in skip)
    result = Result("outage", quick)
    updates = workload(plan.updates, plan.children, seed)
    done: list[tuple[Cut, float, float]] = []
    with Run("outage", run_dir, size, cut_sqs_line=True) as stage:
        tally = Tally()
        scheduler = threading.Thread(target=_schedule, args=(stage, cuts, time.monotonic(), done))
        scheduler.start()
        stage.producer(tally, deadline=120.0).send(updates, plan.rate, size.array)
        scheduler.join()
        drain = stage.wait_drained()
        recon = stage.reconcile(tally.acknowledged, tally.attempted)
        dead = stage.census()
        writes = stage.write_seconds()
    standard(result, recon, dead, drain, len(tally.attempted), len(tally.acknowledged))
    result.figures["producer answers (all)"] = tally.statuses()
    result.figures["updates refused after the producers' retries (not acknowledged)"] = tally.refused
    for cut, begin, end in done:
        _judge(result, cut, begin, end, tally, stage.events, writes)
    result.notes.append(MOTO_NOTE)
    return result


def _judge(
    result: Result, cut: Cut, begin: float, end: float, tally: Tally, events: list[Any], writes: list[int]
) -> None:
    """Figures and checks of one cut: what producers were told, what the watcher said, when it recovered."""
    component = COMPONENT[cut.target]
    mine = [e for e in events if e.component == component]
    down = next((e for e in mine if e.kind == "down" and begin - 1 <= e.since <= end), None)
    up = next((e for e in mine if down is not None and e.kind == "up" and e.since == down.since), None)
    said = [e for e in (down, up) if e is not None]
    figures: dict[str, Any] = {
        "planned / actual seconds": f"{cut.seconds:g} / {end - begin:.1f}",
        "health watcher": [e.message() for e in said] or "nothing",
    }
    result.check(f"{cut.name}: the health watcher said it went and came back", down is not None and up is not None)
    if cut.target == "sqs":
        inside = [a for a in tally.answers_between(begin + 0.5, end) if a.started + a.seconds <= end]
        labels = Counter(label(a) for a in inside)
        figures["API answers while cut"] = dict(labels) or "none"
        figures["slowest answer while cut (s)"] = round(max((a.seconds for a in inside), default=0.0), 1)
        first = min(
            (a.started + a.seconds for a in tally.answers if a.status == 202 and a.started >= end), default=None
        )
        figures["first 202 after the restore (s)"] = None if first is None else round(first - end, 1)
        result.check(f"{cut.name}: the API answered 503 with Retry-After instead of accepting", _refused_well(inside),
                     f"{dict(labels)}")  # fmt: skip
    else:
        first_write = next((second for second in writes if second >= int(end)), None)
        figures["first write after the restore (s)"] = None if first_write is None else round(first_write + 1 - end, 1)
        result.check(f"{cut.name}: the writers resumed", first_write is not None)
    result.figures[f"{cut.name}"] = figures


def _refused_well(answers: list[Answer]) -> bool:
    """Answered at all, every answer a 503 with Retry-After, each within a producer's timeout."""
    return bool(answers) and all(a.status == 503 and a.retry_after and a.seconds <= ANSWER_WITHIN for a in answers)
