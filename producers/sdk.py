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
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any

from producers.exceptions import ProducerClosed, SendFailed
from producers.packing import AnyUpdate, Item, to_item
from producers.settings import ProducerSettings, get_queue_url
from producers.transport import HttpTransport, SendStats, SqsTransport, Timing, Transport

_log = logging.getLogger(__name__)
FailureHandler = Callable[[SendFailed], None]


class Producer:
    """Buffer updates and send them when a batch is full, ``linger_seconds`` passed, or on flush.

    ``add()`` validates at once (``contract.updates.InvalidUpdate`` for bad input). Sending
    happens in the caller's thread when the buffer fills (back-pressure) and in a background
    thread when it lingers. A failed send is never logged and forgotten: it goes to
    ``on_failure`` if given, otherwise ``SendFailed`` (carrying the unsent updates) is raised
    from the next ``add()``, ``flush()`` or ``close()``.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        linger_seconds: float = 0.5,
        on_failure: FailureHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self.transport = transport
        self.linger_seconds = linger_seconds
        self.on_failure = on_failure
        self.clock = clock
        self.stats = SendStats()
        self._buffer: list[Item] = []
        self._bytes = 0
        self._oldest = 0.0
        self._failures: list[SendFailed] = []
        self._closed = False
        self._lock = threading.Lock()  # the buffer
        self._send_lock = threading.Lock()  # one send at a time; always taken before _lock
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._linger_loop, name="nicelist-producer", daemon=True)
            self._thread.start()

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
        """Flush, stop the background thread, and raise ``SendFailed`` if anything was not sent."""
        with self._lock:
            self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()

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
            self._send(items)

    def _send(self, items: Sequence[Item]) -> None:
        try:
            self.stats.add(self.transport.send(items))
        except SendFailed as failure:
            self._fail(failure)
        except BaseException as error:
            # Not a send failure we expected; the items must still not vanish with it.
            self._fail(SendFailed([item.update for item in items], [f"unexpected {type(error).__name__}"]))
            raise

    def _fail(self, failure: SendFailed) -> None:
        if self.on_failure is not None:
            self.on_failure(failure)
        else:
            with self._lock:
                self._failures.append(failure)

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
