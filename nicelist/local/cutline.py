"""A TCP line that can be cut: a forwarder between one client and one upstream, for the fault suite.

The local stack puts one between the enqueue API and SQS when asked (``StackConfig.cut_sqs_line``),
so a test can take the network path away and give it back while every process keeps running, as a
real network partition or a dropped NAT does, without touching moto (whose state lives in memory:
stopping moto loses everything, by design). Two ways to cut:

- ``reset``: every open connection is reset and every new one is accepted and reset at once, so a
  client fails fast ("connection reset by peer").
- ``blackhole``: nothing is forwarded and nothing is answered, so a client waits for its own
  timeouts; when the line is restored those stalled connections are reset.

It runs in the process that owns it (threads, one per connection), not as a child process: the
traffic it carries (the API's ``SendMessageBatch`` calls) is small, and the owner can cut it with a
method call rather than through yet another control port.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

LOG = logging.getLogger(__name__)
CutMode = Literal["reset", "blackhole"]
_POLL = 0.2
_CHUNK = 65_536


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees a reset, not an orderly end of stream."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@dataclass(slots=True)
class _Counts:
    connections: int = 0
    refused: int = 0  # connections accepted and reset while cut
    reset: int = 0  # open connections reset by a cut or a restore
    bytes_forwarded: int = 0
    cuts: list[dict[str, Any]] = field(default_factory=list)


class _Pipe:
    """One client connection and its upstream connection, pumped by one thread."""

    def __init__(self, line: CutLine, client: socket.socket, upstream: socket.socket) -> None:
        self.line, self.client, self.upstream = line, client, upstream
        self.closed = threading.Event()

    def pump(self) -> None:
        try:
            while not self.closed.is_set():
                if self.line.state == "blackhole":
                    self.closed.wait(_POLL)
                    continue
                ready, _, _ = select.select([self.client, self.upstream], [], [], _POLL)
                for source in ready:
                    if not self._forward(source):
                        return
        except (OSError, ValueError):
            pass  # reset by a cut, or the peer went away
        finally:
            self.close()

    def _forward(self, source: socket.socket) -> bool:
        data = source.recv(_CHUNK)
        if not data:
            return False
        (self.upstream if source is self.client else self.client).sendall(data)
        self.line.count_bytes(len(data))
        return True

    def close(self, *, reset: bool = False) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for sock in (self.client, self.upstream):
            if reset:
                _reset(sock)
            else:
                with contextlib.suppress(OSError):
                    sock.close()
        self.line.forget(self)


class CutLine:
    """``host:port`` forwards to ``upstream``; ``cut()`` and ``restore()`` from any thread."""

    def __init__(self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._address = (host, port)
        self._lock = threading.Lock()
        self._pipes: set[_Pipe] = set()
        self._counts = _Counts()
        self._cut_since: float | None = None
        self.state: Literal["open", "reset", "blackhole"] = "open"
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the line is not started")
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    def start(self) -> CutLine:
        listener = socket.create_server(self._address, reuse_port=False)
        listener.settimeout(_POLL)
        self._listener = listener
        threading.Thread(target=self._accept_loop, name="cutline-accept", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        for pipe in self._live():
            pipe.close()

    def __enter__(self) -> CutLine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cut(self, mode: CutMode = "reset") -> None:
        """Take the line away; open connections are reset now (``reset``) or stall (``blackhole``)."""
        with self._lock:
            if self.state == "open":
                self._cut_since = time.time()
            self.state = mode
        if mode == "reset":
            self._reset_all()
        LOG.info("line to %s:%d cut (%s)", *self.upstream, mode)

    def restore(self) -> None:
        """Give the line back; connections that stalled in a blackhole are reset, new ones go through."""
        with self._lock:
            was, self.state = self.state, "open"
            if was != "open" and self._cut_since is not None:
                self._counts.cuts.append({"start": self._cut_since, "end": time.time(), "mode": was})
            self._cut_since = None
        if was == "blackhole":
            self._reset_all()
        LOG.info("line to %s:%d restored", *self.upstream)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts = self._counts
            return {
                "state": self.state,
                "cut_since": self._cut_since,
                "open_connections": len(self._pipes),
                "connections": counts.connections,
                "refused_while_cut": counts.refused,
                "reset": counts.reset,
                "bytes_forwarded": counts.bytes_forwarded,
                "cuts": list(counts.cuts),
            }

    def count_bytes(self, count: int) -> None:
        with self._lock:
            self._counts.bytes_forwarded += count

    def forget(self, pipe: _Pipe) -> None:
        with self._lock:
            self._pipes.discard(pipe)

    def _live(self) -> list[_Pipe]:
        with self._lock:
            return list(self._pipes)

    def _reset_all(self) -> None:
        pipes = self._live()
        for pipe in pipes:
            pipe.close(reset=True)
        with self._lock:
            self._counts.reset += len(pipes)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed: stopping
            self._open(client)

    def _open(self, client: socket.socket) -> None:
        with self._lock:
            self._counts.connections += 1
            state = self.state
        if state == "reset":
            with self._lock:
                self._counts.refused += 1
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=2)
        except OSError as error:
            LOG.warning("line to %s:%d: upstream unreachable: %s", *self.upstream, error)
            _reset(client)
            return
        for sock in (client, upstream):
            sock.settimeout(None)
            # Without it Nagle and the peer's delayed ACK add ~40 ms to every response (as in the meter).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pipe = _Pipe(self, client, upstream)
        with self._lock:
            self._pipes.add(pipe)
        threading.Thread(target=pipe.pump, name="cutline-pipe", daemon=True).start()
