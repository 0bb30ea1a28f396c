"""The exit flush in-process: ``producers.sdk._flush_at_exit`` is what ``atexit`` calls.

GIVEN producers left open, WHEN the exit hook runs, THEN what they held is sent, or counted
loudly (never the updates themselves), and no hanging send holds the exit past its bound.
The subprocess tests in ``tests/functional/test_producer_exit.py`` run the real ``atexit``.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from producers import Producer, SendFailed, SendStats
from producers.packing import Item
from producers.sdk import _flush_at_exit, _holding, _open

LOGGER = "producers.sdk"


def status(i: int) -> dict[str, Any]:
    return {"kind": "status", "child_id": f"kid-{i:04d}", "status": "nice", "observed_at": "2026-12-23T18:04:05Z"}


class Transport:
    """Records what it sent and the timeout it was given; fails the first ``failures`` sends."""

    max_updates = 1000
    max_bytes = 1 << 20

    def __init__(self, failures: int = 0, hang: threading.Event | None = None) -> None:
        self.failures = failures
        self.hang = hang
        self.sent: list[str] = []
        self.timeouts: list[float | None] = []

    def send(self, items: Sequence[Item], *, timeout: float | None = None) -> SendStats:
        self.timeouts.append(timeout)
        if self.hang is not None:
            self.hang.wait()
        if self.failures:
            self.failures -= 1
            raise SendFailed([item.update for item in items], ["InternalError (gave up at the retry deadline)"])
        self.sent += [item.update.child_id for item in items]
        return SendStats(updates=len(items), requests=1)


@pytest.fixture(autouse=True)
def _no_producers_left() -> Iterator[None]:
    """Each test starts and ends with an empty registry (the hook clears it, as at exit)."""
    _flush_at_exit()
    yield
    _flush_at_exit()


@pytest.mark.parametrize("background", [True, False])
def test_exit_sends_what_is_buffered_and_closes_the_producer(background: bool) -> None:
    # GIVEN a producer holding three updates that nobody flushed or closed
    transport = Transport()
    producer = Producer(transport, linger_seconds=3600, background=background)
    for i in range(3):
        producer.add(status(i))

    # WHEN the interpreter exits
    _flush_at_exit()

    # THEN they were sent within the bound, and the producer takes no more
    assert transport.sent == ["kid-0000", "kid-0001", "kid-0002"]
    assert transport.timeouts[0] is not None and 0 < transport.timeouts[0] <= 5.0
    assert producer not in _open
    with pytest.raises(Exception, match="closed"):
        producer.add(status(9))


def test_exit_resends_a_failure_nobody_was_told_of(caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a background send (poll) that failed and was never raised to the program
    transport = Transport(failures=1)
    producer = Producer(transport, linger_seconds=0, background=False)
    producer.add(status(1))
    producer.poll()

    # WHEN the interpreter exits and the queue is back
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _flush_at_exit()

    # THEN the update is sent after all, and nothing is reported lost
    assert transport.sent == ["kid-0001"]
    assert "not sent" not in caplog.text


def test_exit_logs_the_count_and_hands_them_to_on_failure(caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a queue that refuses everything, and an on_failure handler
    handed: list[SendFailed] = []
    producer = Producer(Transport(failures=99), linger_seconds=3600, on_failure=handed.append, background=False)
    for i in range(4):
        producer.add(status(i))

    # WHEN the interpreter exits
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        _flush_at_exit()

    # THEN the handler got the four, and one error names their count and why, not the children
    assert [u.child_id for failure in handed for u in failure.unsent] == [f"kid-{i:04d}" for i in range(4)]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == LOGGER]
    assert len(errors) == 1
    assert "4 update(s)" in errors[0].getMessage() and "InternalError" in errors[0].getMessage()
    assert "kid-" not in caplog.text


@pytest.mark.parametrize("background", [True, False])
def test_a_hanging_send_does_not_hold_the_exit_past_the_bound(
    background: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a transport that never returns (a silent connection) and a bound of 0.3 s
    hang = threading.Event()
    producer = Producer(Transport(hang=hang), linger_seconds=3600, background=background, exit_timeout_seconds=0.3)
    for i in range(5):
        producer.add(status(i))

    # WHEN the interpreter exits
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _flush_at_exit()
    elapsed = time.monotonic() - started
    hang.set()  # let the abandoned thread finish

    # THEN the exit waited about the bound, said it was waiting, and counted all five as not sent
    assert 0.25 <= elapsed < 1.5
    assert "waiting up to 0.3 s" in caplog.text
    assert "5 update(s)" in caplog.text and "no answer from the queue" in caplog.text


def test_a_zero_bound_only_counts(caplog: pytest.LogCaptureFixture) -> None:
    transport = Transport()
    producer = Producer(transport, linger_seconds=3600, background=False, exit_timeout_seconds=0)
    producer.add(status(1))

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        _flush_at_exit()

    assert transport.sent == [] and "1 update(s)" in caplog.text


def test_opting_out_leaves_the_producer_to_the_program(caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN exit_timeout_seconds=None
    transport = Transport()
    producer = Producer(transport, linger_seconds=3600, background=False, exit_timeout_seconds=None)
    producer.add(status(1))

    # WHEN the interpreter exits THEN nothing is sent or said; close() still works
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        _flush_at_exit()
    assert transport.sent == [] and caplog.text == ""
    producer.close()
    assert transport.sent == ["kid-0001"]


def test_a_dropped_producer_without_a_thread_is_still_flushed() -> None:
    # GIVEN a background=False producer with updates, dropped without close()
    transport = Transport()
    producer = Producer(transport, linger_seconds=3600, background=False)
    producer.add(status(7))
    del producer
    gc.collect()

    # WHEN the interpreter exits THEN its update was not collected with it
    assert len(_holding) == 1
    _flush_at_exit()
    assert transport.sent == ["kid-0007"]


def test_unused_and_closed_producers_are_not_kept_alive() -> None:
    unused = Producer(Transport(), background=False)
    closed = Producer(Transport(), background=False)
    closed.add(status(1))
    closed.close()

    assert unused in _open and closed not in _open and not _holding
    del unused
    gc.collect()
    assert len(_open) == 0


def test_a_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="exit_timeout_seconds"):
        Producer(Transport(), background=False, exit_timeout_seconds=-1)


class Interrupted(Transport):
    """Ctrl-C arrives during the first send."""

    def send(self, items: Sequence[Item], *, timeout: float | None = None) -> SendStats:
        if not self.timeouts:
            self.timeouts.append(timeout)
            raise KeyboardInterrupt
        return super().send(items, timeout=timeout)


def test_an_interrupted_close_still_flushes_at_exit() -> None:
    # GIVEN a close() interrupted by Ctrl-C while it sends: the program never saw a SendFailed
    transport = Interrupted()
    producer = Producer(transport, linger_seconds=3600, background=False)
    producer.add(status(3))
    with pytest.raises(KeyboardInterrupt):
        producer.close()

    # WHEN the interpreter exits
    _flush_at_exit()

    # THEN the update it held is sent then, not dropped with the interrupted close
    assert transport.sent == ["kid-0003"]


def test_a_zero_bound_sends_nothing_from_the_linger_thread_either() -> None:
    transport = Transport()
    producer = Producer(transport, linger_seconds=3600, exit_timeout_seconds=0)
    producer.add(status(1))

    _flush_at_exit()
    assert producer._thread is not None
    producer._thread.join(timeout=2)

    assert transport.sent == [] and not producer._thread.is_alive()
