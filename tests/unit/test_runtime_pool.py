"""The execution pool: reserved concurrency throttles, dead environments are replaced, scaling down
waits for in-flight invocations."""

from __future__ import annotations

from typing import Any

from nicelist.local.pool import ExecutionPool


class FakeEnvironment:
    def __init__(self, name: str) -> None:
        self.name = name
        self.pid = int(name.rsplit("-", 1)[1])
        self.alive = True
        self.stopped = False

    def stop(self, grace: float = 2.0) -> None:
        self.stopped = True
        self.alive = False


def _pool(limit: int | None) -> tuple[ExecutionPool, list[FakeEnvironment]]:
    spawned: list[FakeEnvironment] = []

    def spawn(name: str) -> Any:
        spawned.append(FakeEnvironment(name))
        return spawned[-1]

    return ExecutionPool(spawn, limit), spawned


def test_invocations_beyond_reserved_concurrency_are_throttled() -> None:
    pool, _ = _pool(limit=2)

    first, second = pool.acquire(), pool.acquire()

    assert first is not None and second is not None and first is not second
    assert pool.acquire() is None
    pool.release(first)
    assert pool.acquire() is first  # warm: the same environment, module state and all


def test_unreserved_never_throttles() -> None:
    pool, spawned = _pool(limit=None)

    assert all(pool.acquire() is not None for _ in range(50))
    assert len(spawned) == 50


def test_a_dead_environment_is_replaced() -> None:
    pool, spawned = _pool(limit=1)
    environment = pool.acquire()
    assert environment is not None

    environment.alive = False
    pool.release(environment)

    assert pool.replaced == 1
    assert [e.name for e in spawned] == ["writer-exec-1", "writer-exec-2"]
    assert pool.acquire() is spawned[1]


def test_scaling_down_lets_in_flight_invocations_finish() -> None:
    pool, _ = _pool(limit=3)
    busy = [pool.acquire() for _ in range(3)]

    pool.resize(1, keep=1)

    assert not any(e.stopped for e in busy if e is not None)
    assert pool.acquire() is None
    for environment in busy:
        assert environment is not None
        pool.release(environment)
    assert sum(not e.stopped for e in busy if e is not None) == 1
    assert pool.size == 1


def test_close_stops_everything_and_refuses_new_invocations() -> None:
    pool, spawned = _pool(limit=None)
    pool.release(pool.acquire())  # type: ignore[arg-type]

    pool.close(timeout=0.1)

    assert pool.acquire() is None
    assert all(e.stopped for e in spawned)
