"""storm: duplicates and reordering on a large scale, through the real runtime.

SQS is at-least-once, producers retry, and an operator may redrive a DLQ twice: the writer must
absorb any number of copies of an update, in any order, bare or packed. Every update is sent
several times, the copies shuffled, packed into envelopes of random sizes (or sent bare), some whole
messages sent twice, from several threads at once. The table must be identical, attribute for
attribute (apart from the writer's own ``written_at``), to what ordered delivery of the distinct
updates gives: the newest status and location per child, every track point once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.envelope import compact, encode_envelope
from contract.keys import is_track
from loadtests.faults.harness import Result, Run, profile, standard
from loadtests.faults.traffic import parsed, send_bodies, workload
from loadtests.faults.verify import item_mismatches


@dataclass(frozen=True, slots=True)
class Plan:
    unique: int
    children: int
    copies: int  # each update handed over this many times
    bare_share: float  # of messages, a bare update; the rest envelopes of 2..max_pack
    max_pack: int
    resend_share: float  # of messages, sent a second time verbatim


QUICK = Plan(unique=300, children=100, copies=3, bare_share=0.3, max_pack=40, resend_share=0.1)
LONG = Plan(unique=2500, children=500, copies=3, bare_share=0.3, max_pack=50, resend_share=0.1)


def storm(updates: list[dict[str, Any]], plan: Plan, rng: random.Random) -> list[str]:
    """Every update ``copies`` times, shuffled, bare or packed; some messages twice; shuffled again."""
    copies = [update for update in updates for _ in range(plan.copies)]
    rng.shuffle(copies)
    bodies, cursor = [], 0
    while cursor < len(copies):
        take = 1 if rng.random() < plan.bare_share else rng.randrange(2, plan.max_pack + 1)
        chunk = copies[cursor : cursor + take]
        cursor += take
        bodies.append(compact(chunk[0]) if len(chunk) == 1 else encode_envelope(chunk))
    bodies += [body for body in bodies if rng.random() < plan.resend_share]
    rng.shuffle(bodies)
    return bodies


def run(run_dir: Path, quick: bool, seed: int, skip: frozenset[str] = frozenset()) -> Result:
    size, plan = profile(quick), QUICK if quick else LONG
    result = Result("storm", quick)
    rng = random.Random(seed)
    updates = workload(plan.unique, plan.children, seed)
    bodies = storm(updates, plan, rng)
    distinct = parsed(updates)
    with Run("storm", run_dir, size) as stage:
        send_bodies(stage.sqs(), stage.queue_url, bodies, threads=4)
        drain = stage.wait_drained()
        items = stage.items()
        recon = stage.reconcile(distinct, distinct)
        dead = stage.census()
        meter = stage.meter()
    standard(result, recon, dead, drain, plan.unique * plan.copies, plan.unique * plan.copies)
    mismatches = item_mismatches(distinct, items)
    tracks = sum(1 for key in items if is_track(key[1]))
    result.figures.update(
        {
            "distinct updates": plan.unique,
            "copies of each": plan.copies,
            "messages sent (bare and packed, some twice)": len(bodies),
            "items differing from ordered delivery": mismatches,
            "track points in the table / expected": f"{tracks} / {recon.track_expected}",
            "write units the table took (stale rewrites included)": meter["totals"].get("units"),
        }
    )
    result.check("state identical to ordered delivery", mismatches == 0, f"{mismatches} items differ")
    result.check("every track point exactly once", tracks == recon.track_expected, f"{tracks} in the table")
    result.check("nothing at all in the DLQ", not dead.letters, f"{len(dead.letters)} dead letters")
    return result
