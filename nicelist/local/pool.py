"""Execution environments and the function's reserved concurrency.

``acquire`` returns an idle environment, starts a new one (a cold start), or returns None when the
invocation would exceed the reserved concurrency: Lambda's throttle. Environments that died or timed
out are replaced at once; scaling down retires environments as their invocations finish.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from nicelist.local.environment import ExecutionEnvironment

Spawn = Callable[[str], ExecutionEnvironment]


class ExecutionPool:
    def __init__(self, spawn: Spawn, limit: int | None, *, name_prefix: str = "writer-exec") -> None:
        self._spawn = spawn
        self._limit = limit
        self._prefix = name_prefix
        self._numbers = itertools.count(1)
        self._idle: list[ExecutionEnvironment] = []
        self._busy: set[ExecutionEnvironment] = set()
        self._closed = False
        self._changed = threading.Condition()
        self.replaced = 0

    def _new(self) -> ExecutionEnvironment:
        return self._spawn(f"{self._prefix}-{next(self._numbers)}")

    @property
    def in_flight(self) -> int:
        with self._changed:
            return len(self._busy)

    @property
    def size(self) -> int:
        with self._changed:
            return len(self._busy) + len(self._idle)

    def pids(self) -> list[int]:
        with self._changed:
            return sorted(environment.pid for environment in [*self._busy, *self._idle])

    def acquire(self) -> ExecutionEnvironment | None:
        """An environment for one invocation, or None if reserved concurrency is used up (or closed)."""
        with self._changed:
            if self._closed or (self._limit is not None and len(self._busy) >= self._limit):
                return None
            environment = self._idle.pop() if self._idle else self._new()
            self._busy.add(environment)
            return environment

    def release(self, environment: ExecutionEnvironment) -> None:
        """Return an environment after its invocation; replace it if it is gone."""
        retire: list[ExecutionEnvironment] = []
        with self._changed:
            self._busy.discard(environment)
            if not environment.alive:
                self.replaced += 1
                if not self._closed:
                    self._idle.append(self._new())
            elif self._closed or (self._limit is not None and len(self._busy) + len(self._idle) >= self._limit):
                retire.append(environment)
            else:
                self._idle.append(environment)
            self._changed.notify_all()
        for environment_ in retire:
            environment_.stop()

    def resize(self, limit: int | None, keep: int) -> None:
        """New reserved concurrency; idle environments beyond ``keep`` (or the limit) are stopped."""
        with self._changed:
            self._limit = limit
            room = keep if limit is None else min(keep, limit)
            room = max(0, room - len(self._busy))
            retire, self._idle = self._idle[room:], self._idle[:room]
        for environment in retire:
            environment.stop()

    def close(self, timeout: float) -> None:
        """Refuse new invocations, wait up to ``timeout`` for in-flight ones, then stop every process."""
        with self._changed:
            self._closed = True
            self._changed.wait_for(lambda: not self._busy, timeout=timeout)
            everyone = [*self._idle, *self._busy]
            self._idle = []
        for environment in everyone:
            environment.stop(grace=0.5)
