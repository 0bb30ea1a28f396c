"""The Python SDK: a thread-safe ``Producer`` that validates, packs, batches and retries.

Example (runs in ``tests/unit/test_producers_sdk.py`` against a stubbed SQS)::

    import boto3
    from producers import Producer

    sqs = boto3.client("sqs")
    with Producer.from_sqs(sqs, queue_url="https://sqs.../nicelist-prod-updates") as producer:
        producer.add({"kind": "status", "child_id": "c-000042", "status": "nice",
                      "observed_at": "2026-12-23T18:04:05Z"})
    # leaving the block flushed everything, or raised SendFailed with the unsent updates

Without AWS credentials, the same object sends through the enqueue API::

    with Producer.from_api("https://api.example/", api_key="...") as producer: ...

A producer that is never closed is flushed when the interpreter exits (``atexit``), for at most
``exit_timeout_seconds``; whatever is still unsent then is counted, loudly, never silently
dropped (see ``_flush_at_exit``).
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from producers.exceptions import ProducerClosed, SendFailed
from producers.packing import AnyUpdate, Item, to_item
from producers.settings import ProducerSettings, get_queue_url
from producers.transport import HttpTransport, SendStats, SqsTransport, Timing, Transport

_log = logging.getLogger(__name__)
FailureHandler = Callable[[SendFailed], None]
DEFAULT_EXIT_TIMEOUT_SECONDS = 5.0
# As sentry-sdk does, say that exit is waiting only once it has waited this long.
_EXIT_NOTICE_SECONDS = 0.1


@dataclass(slots=True)
class _Exit:
    """One producer's part in the exit flush: its deadline, and what it handed to ``on_failure``."""

    deadline: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    handed: int = 0
    reasons: list[str] = field(default_factory=list)


class Producer:
    """Buffer updates and send them when a batch is full, ``linger_seconds`` passed, or on flush.

    ``add()`` validates at once (``contract.updates.InvalidUpdate`` for bad input). Sending
    happens in the caller's thread when the buffer fills (back-pressure) and in a background
    thread when it lingers. A failed send is never logged and forgotten: it goes to
    ``on_failure`` if given, otherwise ``SendFailed`` (carrying the unsent updates) is raised
    from the next ``add()``, ``flush()`` or ``close()``.

    ``add()`` returns while the update only sits in memory, so a producer left open at
    interpreter exit is flushed then, for at most ``exit_timeout_seconds`` (``0``: only count
    what is left; ``None``: not at all, the program closes it itself). What cannot be sent in
    time goes to ``on_failure`` if given, and its count (never its contents) is logged as an
    error on this module's logger, or written to stderr when logging is not configured.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        linger_seconds: float = 0.5,
        on_failure: FailureHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
        exit_timeout_seconds: float | None = DEFAULT_EXIT_TIMEOUT_SECONDS,
    ) -> None:
        if exit_timeout_seconds is not None and not exit_timeout_seconds >= 0:
            raise ValueError("exit_timeout_seconds must be >= 0, or None to opt out of the exit flush")
        self.transport = transport
        self.linger_seconds = linger_seconds
        self.on_failure = on_failure
        self.clock = clock
        self.exit_timeout_seconds = exit_timeout_seconds
        self.stats = SendStats()
        self._buffer: list[Item] = []
        self._bytes = 0
        self._oldest = 0.0
        self._in_flight: list[Item] = []  # taken from the buffer by the send under way
        self._failures: list[SendFailed] = []
        self._closed = False
        self._exit = _Exit()
        self._held = False  # in _holding: accepted updates and not closed
        self._lock = threading.Lock()  # the buffer
        self._send_lock = threading.Lock()  # one send at a time; always taken before _lock
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._linger_loop, name="nicelist-producer", daemon=True)
            self._thread.start()
        if exit_timeout_seconds is not None:
            _register(self)

    @classmethod
    def from_sqs(
        cls,
        sqs: Any,
        queue_url: str | None = None,
        *,
        settings: ProducerSettings | None = None,
        timing: Timing | None = None,
        **options: Any,
    ) -> Producer:
        """A producer that sends straight to SQS (the queue URL is looked up by stage if not given)."""
        settings = settings or ProducerSettings()
        url = queue_url or settings.queue_url or get_queue_url(sqs, settings.stage)
        transport = SqsTransport(
            sqs,
            url,
            envelope_bytes=settings.envelope_bytes,
            max_updates_per_envelope=settings.max_updates_per_envelope,
            timing=timing,
        )
        return cls(transport, **options)

    @classmethod
    def from_api(cls, url: str, api_key: str, *, timing: Timing | None = None, **options: Any) -> Producer:
        """A producer that sends through the enqueue API, for producers without AWS credentials."""
        return cls(HttpTransport(url, api_key, timing=timing), **options)

    def add(self, update: AnyUpdate | dict[str, Any]) -> None:
        """Validate and buffer one update. Raises ``InvalidUpdate``, ``SendFailed`` or ``ProducerClosed``.

        When an earlier background send failed (and there is no ``on_failure``), that failure
        is raised here and ``update`` is *not* accepted; it is named in ``.unsent`` with the
        others, so a caller that re-sends or spools ``.unsent`` loses nothing.
        """
        item = to_item(update)
        self._raise_failures(refused=item.update)
        with self._lock:
            if self._closed:
                raise ProducerClosed("the producer is closed")
            if not self._buffer:
                self._oldest = self.clock()
            self._buffer.append(item)
            self._bytes += item.size
            full = len(self._buffer) >= self.transport.max_updates or self._bytes >= self.transport.max_bytes
            hold, self._held = not self._held, True
        if hold:
            _hold(self)
        if full:
            self._send_buffer(only_if_full=True)
            self._raise_failures()

    def add_many(self, updates: Iterable[AnyUpdate | dict[str, Any]]) -> None:
        for update in updates:
            self.add(update)

    def flush(self) -> None:
        """Send everything buffered so far; raise ``SendFailed`` for anything not confirmed."""
        self._send_buffer()
        self._raise_failures()

    def poll(self) -> None:
        """Send the buffer if its oldest update waited ``linger_seconds`` (the background thread's step)."""
        with self._lock:
            due = bool(self._buffer) and self.clock() - self._oldest >= self.linger_seconds
        if due:
            self._send_buffer()

    def close(self) -> None:
        """Flush, stop the background thread, and raise ``SendFailed`` if anything was not sent.

        Only a close that returns or raises ``SendFailed`` hands everything over; one cut short
        (Ctrl-C while sending) leaves the producer to the exit flush, which still holds its updates.
        """
        with self._lock:
            self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        try:
            self.flush()
        except SendFailed:
            _unregister(self)  # the caller holds the unsent updates now
            raise
        _unregister(self)

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _send_buffer(self, only_if_full: bool = False) -> None:
        with self._send_lock:
            with self._lock:
                full = len(self._buffer) >= self.transport.max_updates or self._bytes >= self.transport.max_bytes
                if not self._buffer or (only_if_full and not full):
                    return
                items, self._buffer, self._bytes = self._buffer, [], 0
                self._in_flight = items
            self._send(items)

    def _send(self, items: Sequence[Item], timeout: float | None = None) -> None:
        """Send ``items`` (the caller holds ``_send_lock`` and put them in ``_in_flight``)."""
        try:
            # Only the exit flush passes a timeout, so transports without one keep working.
            sent = self.transport.send(items) if timeout is None else self.transport.send(items, timeout=timeout)
            self.stats.add(sent)
        except SendFailed as failure:
            self._settle(failure)
        except BaseException as error:
            # Not a send failure we expected; the items must still not vanish with it.
            self._settle(SendFailed([item.update for item in items], [f"unexpected {type(error).__name__}"]))
            raise
        else:
            self._settle(None)

    def _settle(self, failure: SendFailed | None) -> None:
        """The send is over: its items are either sent or named in ``failure``, never both nor neither."""
        handler = self.on_failure
        with self._lock:
            self._in_flight = []
            if failure is not None and handler is None:
                self._failures.append(failure)
            elif failure is not None and self._exit.deadline is not None:
                self._exit.handed += len(failure.unsent)
                self._exit.reasons += failure.reasons
        if failure is not None and handler is not None:
            handler(failure)

    def _raise_failures(self, refused: AnyUpdate | None = None) -> None:
        """Raise every recorded failure once; ``refused``, the update not accepted because of them, with them."""
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            unsent = [update for failure in failures for update in failure.unsent]
            unsent += [refused] if refused is not None else []
            raise SendFailed(unsent, [reason for failure in failures for reason in failure.reasons])

    def _linger_loop(self) -> None:
        interval = max(0.01, min(self.linger_seconds / 4, 0.25))
        while not self._wake.wait(interval):
            try:
                self.poll()
            except Exception:
                # _send already recorded the unsent updates for the next caller; this only
                # keeps the thread alive (e.g. when on_failure itself raised).
                _log.exception("background send raised")
        if self._exit.deadline is not None:  # woken by the exit hook rather than by close()
            self._flush_for_exit(self._exit.deadline)

    def _begin_exit(self, now: float) -> threading.Event | None:
        """Close for the exit flush; return the event to wait for, or None when nothing is left."""
        with self._lock:
            self._closed = True
            pending = bool(self._buffer or self._in_flight or self._failures)
            if pending and self.exit_timeout_seconds:
                self._exit.deadline = now + self.exit_timeout_seconds
        self._wake.set()
        if not pending:
            return None
        if self._exit.deadline is None:
            self._exit.done.set()  # exit_timeout_seconds=0: count only, send nothing
        elif (self._thread is None or not self._thread.is_alive()) and not _worker.submit(self):
            self._flush_for_exit(self._exit.deadline)  # last resort (after a fork): unbounded on a hang
        return self._exit.done

    def _flush_for_exit(self, deadline: float) -> None:
        """Send the buffer, and every failure nobody was told of yet, within ``deadline`` (monotonic)."""
        try:
            if not self._send_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return  # a send still holds it at the deadline: its updates count as unsent
            try:
                with self._lock:
                    unreported, self._failures = self._failures, []
                    items = self._buffer + [to_item(update) for failure in unreported for update in failure.unsent]
                    self._buffer, self._bytes, self._in_flight = [], 0, items
                if items:
                    self._send(items, timeout=max(0.0, deadline - time.monotonic()))
            finally:
                self._send_lock.release()
        except Exception:
            _log.exception("the exit flush raised")  # what it held is still counted by _exit_report
        finally:
            self._exit.done.set()

    def _exit_report(self) -> tuple[int, list[str]]:
        """How many updates this producer did not get confirmed before exit, and why (no contents)."""
        bound = f"exit_timeout_seconds={self.exit_timeout_seconds or 0:g}"
        with self._lock:
            reasons = [reason for failure in self._failures for reason in failure.reasons] + self._exit.reasons
            if self._in_flight:
                reasons.append(f"no answer from the queue within {bound}")
            if self._buffer:
                reasons.append(f"not sent at exit ({bound})" if self.exit_timeout_seconds else f"{bound}: not sent")
            unsent = len(self._buffer) + len(self._in_flight) + sum(len(f.unsent) for f in self._failures)
            return unsent + self._exit.handed, list(dict.fromkeys(reasons))


# Open producers, weakly: registering must not keep an unused producer alive. One that has
# accepted updates is also held strongly until close(), so that dropping it (background=False
# has no thread to keep it alive) cannot garbage-collect its buffer before the exit flush.
_open: weakref.WeakSet[Producer] = weakref.WeakSet()
_holding: set[Producer] = set()
_open_lock = threading.Lock()


def _register(producer: Producer) -> None:
    with _open_lock:
        _open.add(producer)


def _hold(producer: Producer) -> None:
    with _open_lock:
        if producer in _open:
            _holding.add(producer)
    _worker.start()  # also for background producers: their thread ends with an interrupted close()


class _ExitWorker:
    """One idle daemon thread, started while the program runs, that flushes producers without a thread at exit.

    Python >= 3.12 refuses to start a thread inside an atexit function, and a flush in the
    exiting thread itself could hang on a silent connection; a thread started earlier can be
    abandoned at the deadline.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Producer] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="nicelist-exit-flush", daemon=True)
                self._thread.start()

    def submit(self, producer: Producer) -> bool:
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive()
        if alive:
            self._jobs.put(producer)
        return alive

    def _run(self) -> None:
        while True:
            producer = self._jobs.get()
            producer._flush_for_exit(producer._exit.deadline or 0.0)
            del producer


_worker = _ExitWorker()


def _unregister(producer: Producer) -> None:
    with _open_lock:
        _open.discard(producer)
        _holding.discard(producer)


def _shout(level: int, message: str) -> None:
    """Log on the SDK's logger; with no logging configured at all, write to stderr instead (at exit too)."""
    if _log.hasHandlers():
        _log.log(level, message)
    else:
        print(f"{logging.getLevelName(level)} {_log.name}: {message}", file=sys.stderr, flush=True)


def _flush_at_exit() -> None:
    """``atexit``: flush every open producer, each for at most its ``exit_timeout_seconds``.

    Like OpenTelemetry's BatchSpanProcessor and sentry-sdk, the wait is bounded: background
    producers flush on their own (daemon) linger threads, all at once, and the exit waits
    on each only until its deadline, so a hanging connection cannot hold the process; the
    daemon thread is abandoned. Every update not confirmed by then is counted, loudly.
    """
    with _open_lock:
        producers = list(_open)
        _open.clear()
        _holding.clear()
    now = time.monotonic()
    begun = [(producer, producer._begin_exit(now)) for producer in producers]
    waits = [(producer, done) for producer, done in begun if done is not None]
    if not waits:
        return
    if not _wait(waits, now + _EXIT_NOTICE_SECONDS):
        count = sum(producer._exit_report()[0] for producer, _ in waits)
        longest = max(producer.exit_timeout_seconds or 0.0 for producer, _ in waits)
        _shout(logging.WARNING, f"sending {count} buffered update(s) before exit; waiting up to {longest:g} s")
    _wait(waits, None)
    for producer, _ in waits:
        unsent, reasons = producer._exit_report()
        if unsent:
            why = "; ".join(reasons) or "unknown"
            _shout(
                logging.ERROR,
                f"{unsent} update(s) accepted by Producer.add() were not sent before the interpreter exited: "
                f"{why}. Call close() before exiting and handle SendFailed to keep them.",
            )


def _wait(waits: list[tuple[Producer, threading.Event]], until: float | None) -> bool:
    """Wait for every producer's exit flush until ``until`` or its own deadline; True if all are done."""
    for producer, done in waits:
        deadline = producer._exit.deadline or 0.0
        done.wait(max(0.0, min(deadline, until if until is not None else deadline) - time.monotonic()))
    return all(done.is_set() for _, done in waits)


atexit.register(_flush_at_exit)


def send_packed(
    updates: Sequence[AnyUpdate | dict[str, Any]],
    *,
    sqs: Any,
    queue_url: str,
    settings: ProducerSettings | None = None,
    timing: Timing | None = None,
) -> None:
    """Validate, pack and send ``updates`` now; return only when SQS confirmed every message.

    Raises ``InvalidUpdate`` before sending anything, or ``SendFailed`` with the unconfirmed
    updates. The enqueue API calls this once per request.
    """
    settings = settings or ProducerSettings()
    items = [to_item(update, index) for index, update in enumerate(updates)]
    transport = SqsTransport(
        sqs,
        queue_url,
        envelope_bytes=settings.envelope_bytes,
        max_updates_per_envelope=settings.max_updates_per_envelope,
        timing=timing,
    )
    transport.send(items)
