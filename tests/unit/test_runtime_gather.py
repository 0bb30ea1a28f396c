"""Batching: several receives of at most 10 make one batch; the window bounds the wait."""

from __future__ import annotations

from nicelist.local.poller import Message, gather


class FakeQueue:
    """Messages arrive at given times on a fake clock; a receive advances the clock by its wait."""

    def __init__(self, arrivals: list[float]) -> None:
        self.now = 0.0
        self.arrivals = sorted(arrivals)
        self.calls: list[tuple[int, int]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def receive(self, max_messages: int, wait: int) -> list[Message]:
        self.calls.append((max_messages, wait))
        ready = [t for t in self.arrivals if t <= self.now]
        if not ready and wait:
            later = [t for t in self.arrivals if t <= self.now + wait]
            self.now = later[0] if later else self.now + wait
            ready = [t for t in self.arrivals if t <= self.now]
        taken = ready[:max_messages]
        for t in taken:
            self.arrivals.remove(t)
        return [{"MessageId": str(t)} for t in taken]


def _gather(queue: FakeQueue, batch_size: int, window: float, wait: int = 20) -> list[Message]:
    return gather(
        queue.receive,
        batch_size=batch_size,
        window_seconds=window,
        wait_time_seconds=wait,
        clock=queue.clock,
        sleep=queue.sleep,
    )


def test_window_zero_invokes_with_what_one_receive_brought() -> None:
    queue = FakeQueue([0.0] * 3 + [5.0] * 20)

    batch = _gather(queue, batch_size=10, window=0)

    assert len(batch) == 3
    assert queue.calls == [(10, 20)]


def test_receives_are_capped_at_ten_and_repeated_until_the_batch_is_full() -> None:
    queue = FakeQueue([0.0] * 30)

    batch = _gather(queue, batch_size=25, window=5)

    assert len(batch) == 25
    assert [max_messages for max_messages, _ in queue.calls] == [10, 10, 5]
    assert queue.now == 0.0


def test_window_elapses_with_a_partial_batch() -> None:
    queue = FakeQueue([0.0] * 4 + [1.5] * 3 + [9.0] * 10)

    batch = _gather(queue, batch_size=100, window=3)

    assert len(batch) == 7
    assert 3.0 <= queue.now < 3.1


def test_long_poll_never_outlasts_the_window() -> None:
    queue = FakeQueue([])

    assert _gather(queue, batch_size=10, window=2.5) == []
    assert all(wait <= 2 for _, wait in queue.calls)
    assert 2.5 <= queue.now < 2.6


def test_stop_ends_gathering() -> None:
    queue = FakeQueue([0.0] * 30)

    batch = gather(queue.receive, batch_size=30, window_seconds=5, wait_time_seconds=1, should_stop=lambda: True)

    assert batch == []
