"""poison: malformed bodies sent straight to SQS in the middle of a spike, among good neighbours.

A producer that bypasses the API can put anything on the queue: bad JSON, wrong types, unknown
envelope versions, envelopes mixing valid and invalid updates, huge and deeply nested messages
(``bodies.py``). Each bad message must end in the DLQ with its reason (``nicelist-error``), at once
and without delaying its neighbours; every valid update, in the spike or inside a mixed envelope,
must be written.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.envelope import compact, encode_envelope
from loadtests.faults import bodies
from loadtests.faults.harness import Result, Run, profile, standard
from loadtests.faults.traffic import Tally, parsed, send_bodies, workload
from loadtests.faults.verify import Census, digest


@dataclass(frozen=True, slots=True)
class Plan:
    updates: int  # through the API
    children: int
    rate: float
    rounds: int  # of every poison case (bodies.generate)
    neighbours: int  # valid updates sent straight to SQS beside the poison


QUICK = Plan(updates=400, children=100, rate=80.0, rounds=1, neighbours=150)
LONG = Plan(updates=2000, children=400, rate=150.0, rounds=4, neighbours=600)


def _neighbours(updates: list[dict[str, Any]], rng: random.Random) -> list[str]:
    """Good bodies for the same queue: bare updates and envelopes of up to 20."""
    texts, cursor = [], 0
    while cursor < len(updates):
        take = 1 if rng.random() < 0.4 else rng.randrange(2, 21)
        chunk = updates[cursor : cursor + take]
        cursor += take
        texts.append(compact(chunk[0]) if len(chunk) == 1 else encode_envelope(chunk))
    return texts


def run(run_dir: Path, quick: bool, seed: int, skip: frozenset[str] = frozenset()) -> Result:
    size, plan = profile(quick), QUICK if quick else LONG
    result = Result("poison", quick)
    rng = random.Random(seed)
    spike = workload(plan.updates, plan.children, seed)
    good = workload(plan.neighbours, plan.children, seed + 1)
    children = sorted({u["child_id"] for u in spike})
    poisons = bodies.generate(rng, children, plan.rounds, skip)
    with Run("poison", run_dir, size) as stage:
        tally = Tally()
        sending = threading.Thread(target=stage.producer(tally).send, args=(spike, plan.rate, size.array))
        sending.start()
        time.sleep(plan.updates / plan.rate / 2)  # the middle of the spike
        mixed: list[tuple[bodies.Poison | None, str]] = [(p, p.body) for p in poisons]
        mixed += [(None, body) for body in _neighbours(good, rng)]
        rng.shuffle(mixed)
        sent = send_bodies(stage.sqs(), stage.queue_url, [body for _, body in mixed])
        ids = [(poison, message_id) for (poison, _), message_id in zip(mixed, sent, strict=True) if poison]
        sending.join()
        drain = stage.wait_drained()
        direct = parsed(good) + parsed([u for p in poisons for u in p.valid])
        acknowledged = tally.acknowledged + direct
        recon = stage.reconcile(acknowledged, tally.attempted + direct)
        dead = stage.census()
    standard(result, recon, dead, drain, len(tally.attempted) + len(direct), len(acknowledged))
    per_case, missing = _cases(ids, dead)
    result.figures.update(
        {
            "malformed messages injected": len(poisons),
            "good messages beside them": len(mixed) - len(poisons),
            "per case (injected / dead-lettered with a reason / by SQS without one)": per_case,
        }
    )
    result.check("every malformed message dead-lettered with its reason", not missing, "; ".join(missing))
    result.check("no dead letter without a reason", dead.without_reason == 0, f"{dead.without_reason} without")
    return result


def _cases(ids: list[tuple[bodies.Poison, str]], dead: Census) -> tuple[dict[str, str], list[str]]:
    """Per case: how many were injected, dead-lettered with a reason, and moved by SQS without one."""
    with_reason = {letter.source for letter in dead.letters if letter.reason is not None}
    by_sqs = {letter.digest for letter in dead.letters if letter.reason is None}
    injected, reasoned, redriven = Counter[str](), Counter[str](), Counter[str]()
    missing = []
    for poison, message_id in ids:
        injected[poison.case] += 1
        if message_id in with_reason:
            reasoned[poison.case] += 1
        elif digest(poison.body) in by_sqs:
            redriven[poison.case] += 1
            missing.append(f"{poison.label}: moved by SQS without a reason")
        else:
            missing.append(f"{poison.label}: not in the DLQ")
    figures = {case: f"{injected[case]} / {reasoned[case]} / {redriven[case]}" for case in injected}
    return figures, sorted(set(missing))
