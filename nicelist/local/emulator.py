"""The local stack's CloudWatch: publish metrics, evaluate alarms, collect notifications, on one thread.

``CloudWatchEmulator`` runs ``StackMetrics.tick()`` every ``tick_seconds`` (1 s), the alarm evaluation
every ``evaluate_seconds`` (5 s: at least twice per local alarm period of 10 s) and moves arrived
notifications into the log after each evaluation. A failed round (moto restarting, the meter busy) is
logged and the next one runs; nothing here can stop the stack.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from nicelist.local.alarm_eval import AlarmEvaluator, Transition
from nicelist.local.cloudwatch import StackMetrics
from nicelist.local.notifications import NotificationInbox

LOG = logging.getLogger(__name__)


class CloudWatchEmulator:
    def __init__(
        self,
        metrics: StackMetrics,
        evaluator: AlarmEvaluator,
        inbox: NotificationInbox,
        *,
        tick_seconds: float = 1.0,
        evaluate_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics, self.evaluator, self.inbox = metrics, evaluator, inbox
        self._tick, self._evaluate_every, self._clock = tick_seconds, evaluate_seconds, clock
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # one round at a time: two could both send one transition
        self._thread: threading.Thread | None = None
        self.transitions: list[Transition] = []

    def start(self) -> CloudWatchEmulator:
        self._thread = threading.Thread(target=self._run, name="cloudwatch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def round(self, *, evaluate: bool = True) -> None:
        """One tick (and one evaluation): what the thread does, callable from tests."""
        with self._lock:
            self.metrics.tick()
            if evaluate:
                self.transitions += self.evaluator.evaluate()
                self.inbox.poll()

    def settle(self, longest_period: int, *, patience: float, sleep: Callable[[float], None] = time.sleep) -> None:
        """Keep evaluating until the periods that were running now are judged, then while an alarm is
        clearing (in ALARM, its newest datapoint fine), for at most ``patience`` seconds more: what the
        demo waits for before it stops."""
        sleep(longest_period + self.evaluator.lag + 1)
        self.round()
        waited = 0.0
        while waited < patience and self.evaluator.clearing():
            sleep(self._evaluate_every)
            waited += self._evaluate_every
            self.round()

    def _run(self) -> None:
        next_evaluation = self._clock() + self._evaluate_every
        while not self._stopping.wait(self._tick):
            due = self._clock() >= next_evaluation
            if due:
                next_evaluation += self._evaluate_every
            try:
                self.round(evaluate=due)
            except (BotoCoreError, ClientError, OSError) as error:
                if not self._stopping.is_set():
                    LOG.warning("local CloudWatch round failed: %s", error)
