"""An HTTP server in a daemon thread, as the local stack's own endpoints run: the writer runtime's
tuning endpoint (``nicelist.local.control``) and the live dashboard (``nicelist.dashboard.server``)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class BackgroundHTTPServer:
    """A ThreadingHTTPServer on ``host:port`` served from a daemon thread; port 0 picks a free port,
    OSError if the port is taken. ``start`` serves, ``stop`` shuts down and closes the socket."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], host: str, port: int, name: str, poll_interval: float
    ) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
