"""crash: SIGKILL writer executions at random moments during a spike and its drain, many times.

Lambda may lose an execution environment at any instant (out of memory, a host failure, a timeout
kill). The runtime replaces a dead execution, and the batch it held reappears when its visibility
timeout expires; whatever the dead execution had written stays written, whatever it had deferred is
on the queue, and the rest is written again. Expected: nothing lost, nothing valid in the DLQ, the
drain finishes, and the killed batches waited about one visibility timeout.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.faults.harness import Result, Run, profile, standard
from loadtests.faults.traffic import Tally, workload
from nicelist.local.runtime import WriterRuntime


@dataclass(frozen=True, slots=True)
class Plan:
    updates: int
    children: int
    rate: float  # updates per second during the spike
    kill_gap: tuple[float, float]  # seconds between two kills, drawn uniformly
    kill_for: float  # seconds of killing from the spike's start, at most
    backlog: int  # ... and only while at least this many messages wait (both executions busy)


QUICK = Plan(updates=600, children=150, rate=150.0, kill_gap=(1.0, 2.0), kill_for=10.0, backlog=15)
LONG = Plan(updates=3000, children=600, rate=250.0, kill_gap=(1.0, 4.0), kill_for=60.0, backlog=20)


class Killer:
    """Kills one of the runtime's execution processes (busy or idle) at random moments."""

    def __init__(self, runtime: WriterRuntime, rng: random.Random, gap: tuple[float, float]) -> None:
        self._runtime, self._rng, self._gap = runtime, rng, gap
        self._stop = threading.Event()
        self.kills: list[tuple[float, int]] = []
        self._thread = threading.Thread(target=self._run, name="killer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self._rng.uniform(*self._gap)):
            pids = [pid for pid in self._runtime.execution_pids() if _alive(pid)]
            if not pids:
                continue
            pid = self._rng.choice(pids)
            try:
                os.kill(pid, signal.SIGKILL)  # our own child: the runtime started it for this run
            except ProcessLookupError:
                continue  # it ended on its own in between
            self.kills.append((time.time(), pid))


def _alive(pid: int) -> bool:
    """Running, not a corpse the runtime has not noticed yet (killing that again would count twice)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


def run(run_dir: Path, quick: bool, seed: int, skip: frozenset[str] = frozenset()) -> Result:
    size, plan = profile(quick), QUICK if quick else LONG
    result = Result("crash", quick)
    updates = workload(plan.updates, plan.children, seed)
    with Run("crash", run_dir, size) as stage:
        assert stage.stack.runtime is not None
        tally = Tally()
        killer = Killer(stage.stack.runtime, random.Random(seed), plan.kill_gap)
        killer.start()
        sending = threading.Thread(target=stage.producer(tally).send, args=(updates, plan.rate, size.array))
        sending.start()
        time.sleep(2.0)  # let the backlog build
        stage.wait_for(lambda: stage.depths()[0] < plan.backlog, timeout=plan.kill_for - 2.0)
        killer.stop()
        sending.join()
        drain = stage.wait_drained()
        recon = stage.reconcile(tally.acknowledged, tally.attempted)
        dead = stage.census()
        runtime = stage.runtime_stats()
        redelivery = stage.deliveries.summary(size.visibility)
    standard(result, recon, dead, drain, len(tally.attempted), len(tally.acknowledged))
    _report(result, killer, runtime, redelivery, size.visibility)
    return result


def _report(
    result: Result, killer: Killer, runtime: dict[str, Any], redelivery: dict[str, Any], visibility: int
) -> None:
    kills, replaced = len(killer.kills), runtime.get("executions_replaced") or 0
    result.figures.update(
        {
            "executions killed (SIGKILL)": kills,
            "executions replaced by the runtime": replaced,
            "invocations failed whole": runtime.get("batch_failures"),
            "visibility timeout (s)": visibility,
            "deliveries redelivered when their visibility expired (killed batches)": redelivery["after_visibility"],
            "  killed batches' wait, receive to redelivery (s, min / median / max)": redelivery["after_visibility_s"],
            "deliveries returned sooner by the writers' backoff": redelivery["returned_sooner"],
            "  returned messages' wait (s, min / median / max)": redelivery["returned_sooner_s"],
        }
    )
    minimum = 4 if result.quick else 15
    result.check("executions were killed many times", kills >= minimum, f"{kills} kills")
    result.check("the runtime replaced the killed executions", replaced >= 1, f"{replaced} of {kills} replaced")
    result.check(
        "the killed batches came back after the visibility timeout",
        redelivery["after_visibility"] > 0,
        f"{redelivery['after_visibility']} deliveries",
    )
