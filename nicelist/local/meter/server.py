"""The meter as an HTTP server: a threaded proxy plus a small JSON control API under ``/_meter/``.

``GET /_meter/stats?seconds=N``  per table: capacity, mode, burst credit, partitions, throttle reasons,
                                 totals, peaks (accepted and offered), the last N seconds (each with
                                 the capacity in force) and auto scaling's activities (``autoscaling``)
``PUT /_meter/capacity``         ``{"table": "t", "wcu": 50}`` or ``{"default": 50}`` (null: unlimited)
``POST /_meter/reset``           forget recorded seconds and totals
``GET /_meter/health``           ``{"ok": true, "upstream": ...}``
``GET /_meter/faults``           the injected faults in force and what they did (``faults.py``)
``PUT /_meter/faults``           ``{"throttle_share": 0.2}``, ``{"down": true, "mode": "reset", "for_seconds": 30}``,
                                 ``{"missing_tables": ["t"]}``, ``{"clear": true}``

The control API keeps answering during an injected outage, so the outage can be lifted.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nicelist.local.meter.core import DEFAULT_BURST_SECONDS, DEFAULT_RETENTION_SECONDS, Meter
from nicelist.local.meter.faults import FaultError, Faults
from nicelist.local.meter.limiter import Clock
from nicelist.local.meter.proxy import UPSTREAM_ERRORS, MeterProxy, Reply, Upstream, unavailable_reply

CONTROL_PREFIX = "/_meter/"
DEFAULT_UPSTREAM = "http://127.0.0.1:4566"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    proxy: MeterProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for clients
    disable_nagle_algorithm = True  # else Nagle + the client's delayed ACK add ~40 ms per response
    server: _Server

    def do_POST(self) -> None:
        self._dispatch()

    do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a line per request would cost more than the proxying."""

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        proxy = self.server.proxy
        if self.path.startswith(CONTROL_PREFIX):
            self._send(_control(proxy, self.command, self.path, body))
            return
        outage = proxy.faults.outage()
        if outage == "503":
            self._send(unavailable_reply())
            return
        if outage is not None:
            if outage == "hang":
                proxy.faults.wait_until_up()
            self._reset()
            return
        try:
            reply = proxy.handle(self.command, self.path, dict(self.headers.items()), body)
        except UPSTREAM_ERRORS as exc:  # upstream down: a gateway error, like any proxy
            reply = _json_reply(502, {"message": f"meter: upstream unreachable: {exc}"})
        self._send(reply)

    def _reset(self) -> None:
        """Answer nothing and close with a reset (SO_LINGER 0), as a host that went away does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for key, value in reply.headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


def _json_reply(status: int, payload: Any) -> Reply:
    return Reply(status, [("Content-Type", "application/json")], json.dumps(payload).encode())


def _stats(proxy: MeterProxy, query: dict[str, list[str]], body: bytes) -> Reply:
    seconds = int(query.get("seconds", ["300"])[0])
    return _json_reply(200, {**proxy.meter.stats(seconds), "faults": proxy.faults.stats()})


def _reset_meter(proxy: MeterProxy, query: dict[str, list[str]], body: bytes) -> Reply:
    proxy.meter.reset()
    return _json_reply(200, {"ok": True})


def _control(proxy: MeterProxy, method: str, path: str, body: bytes) -> Reply:
    parts = urlsplit(path)
    route = _ROUTES.get((method, parts.path.removeprefix(CONTROL_PREFIX).rstrip("/")))
    if route is None:
        return _json_reply(404, {"message": f"no such meter endpoint: {method} {parts.path}"})
    return route(proxy, parse_qs(parts.query), body)


def _put_capacity(meter: Meter, body: bytes) -> Reply:
    try:
        payload = json.loads(body)
        if "default" in payload:
            meter.set_default_capacity(_wcu(payload["default"]))
        if "table" in payload:
            meter.set_capacity(str(payload["table"]), _wcu(payload["wcu"]))
    except (ValueError, KeyError, TypeError) as exc:
        return _json_reply(400, {"message": f"expected {{'table': name, 'wcu': n|null}} or {{'default': n}}: {exc}"})
    stats = meter.stats(1)
    return _json_reply(200, {"capacity": stats["capacity"], "default_capacity": stats["default_capacity"]})


def _put_faults(faults: Faults, body: bytes) -> Reply:
    try:
        return _json_reply(200, faults.configure(json.loads(body or b"{}")))
    except (ValueError, FaultError) as exc:  # FaultError is a ValueError; named for the reader
        return _json_reply(400, {"message": f"bad fault settings: {exc}"})


_Route = Callable[[MeterProxy, dict[str, list[str]], bytes], Reply]
_ROUTES: dict[tuple[str, str], _Route] = {
    ("GET", "stats"): _stats,
    ("GET", "health"): lambda proxy, query, body: _json_reply(200, {"ok": True}),
    ("POST", "reset"): _reset_meter,
    ("PUT", "capacity"): lambda proxy, query, body: _put_capacity(proxy.meter, body),
    ("GET", "faults"): lambda proxy, query, body: _json_reply(200, proxy.faults.stats()),
    ("PUT", "faults"): lambda proxy, query, body: _put_faults(proxy.faults, body),
}


def _wcu(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"wcu must be a non-negative integer or null, got {value!r}")
    return value


class DynamoMeter:
    """A metering, throttling proxy in front of moto server's DynamoDB.

    Point DynamoDB clients at :attr:`url` with ``AWS_ENDPOINT_URL_DYNAMODB`` (other services
    keep ``AWS_ENDPOINT_URL``). ``capacity`` maps table names to WCU/s; tables not in it get
    ``default_capacity``; None means unlimited. With ``enforce=False`` it only records.
    """

    def __init__(
        self,
        upstream: str = DEFAULT_UPSTREAM,
        host: str = "127.0.0.1",
        port: int = 0,
        capacity: dict[str, int | None] | None = None,
        default_capacity: int | None = None,
        *,
        enforce: bool = True,
        burst_seconds: float = DEFAULT_BURST_SECONDS,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
        clock: Clock = time.time,
        faults: Faults | None = None,
    ) -> None:
        self.faults = faults or Faults(clock=clock)
        self.meter = Meter(
            capacity,
            default_capacity,
            enforce=enforce,
            burst_seconds=burst_seconds,
            retention_seconds=retention_seconds,
            clock=clock,
        )
        self._upstream = Upstream(upstream)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the meter is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DynamoMeter:
        server = _Server(self._address, _Handler)
        server.proxy = MeterProxy(self.meter, self._upstream, self.faults)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="dynamo-meter", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Block the calling thread until interrupted (the command line uses this); starts if needed."""
        if self._server is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._upstream.close()

    def stats(self, last_seconds: int = 300) -> dict[str, Any]:
        return {**self.meter.stats(last_seconds), "faults": self.faults.stats()}

    def set_capacity(self, table: str, wcu: int | None) -> None:
        self.meter.set_capacity(table, wcu)

    def set_default_capacity(self, wcu: int | None) -> None:
        self.meter.set_default_capacity(wcu)

    def reset(self) -> None:
        self.meter.reset()

    def __enter__(self) -> DynamoMeter:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
