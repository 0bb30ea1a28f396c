"""The dashboard's HTTP server: the page, its shipped assets, and ``/api/state`` (the collector's latest
reading as JSON), on 127.0.0.1 in a daemon thread of ``nicelist up`` / ``nicelist demo``.

Nothing is fetched from elsewhere at run time: the page, its script, its style and the world outline
are files of this package, served from a fixed list (a URL never names a file on disk). The data in
``/api/state`` comes from the table and from log files, so it is input: the page writes it with
``textContent`` and attributes only, and the Content-Security-Policy allows scripts from this server
alone, so even a mistake there could not run what a hostile child id or log line carried.

``/api/state`` takes one query parameter, ``markers`` (0..``MAX_MARKERS``): at most that many children
on the map. Anything else in the query is refused with 400.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nicelist.local.background_http import BackgroundHTTPServer

DEFAULT_DASHBOARD_PORT = 8081
MAX_MARKERS = 1000
MAX_QUERY_CHARS = 200
# name in the URL -> (file in nicelist/dashboard/static, content type)
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/static/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "/static/world.svg": ("world.svg", "image/svg+xml"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class QueryError(ValueError):
    """The query string of ``/api/state`` is not one the endpoint takes."""


def load_asset(name: str) -> bytes:
    return (resources.files("nicelist.dashboard") / "static" / name).read_bytes()


def parse_state_query(query: str) -> int | None:
    """``markers`` from ``/api/state``'s query (None: all); QueryError for anything else."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError("query too long")
    try:
        values = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query), max_num_fields=4)
    except ValueError as error:
        raise QueryError(f"bad query: {error}") from None
    unknown = set(values) - {"markers"}
    if unknown:
        raise QueryError("unknown query parameter(s): " + ", ".join(sorted(unknown)))
    if "markers" not in values:
        return None
    texts = values["markers"]
    if len(texts) != 1 or not (texts[0].isascii() and texts[0].isdigit()) or int(texts[0]) > MAX_MARKERS:
        raise QueryError(f"markers must be one whole number in 0..{MAX_MARKERS}")
    return int(texts[0])


def state_body(state: dict[str, Any], markers: int | None) -> bytes:
    if markers is not None and isinstance(state.get("map"), dict):
        state = {**state, "map": {**state["map"], "children": state["map"].get("children", [])[:markers]}}
    return json.dumps(state, allow_nan=False, separators=(",", ":")).encode()


def _handler_class(state: Callable[[], dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "nicelist-dashboard"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a page polling every second would fill the terminal

        def _reply(self, status: HTTPStatus, body: bytes, content_type: str, *, cache: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=60" if cache else "no-store")
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: HTTPStatus, message: str) -> None:
            self._reply(status, json.dumps({"error": message}).encode(), "application/json")

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/api/state":
                try:
                    markers = parse_state_query(parts.query)
                except QueryError as error:
                    self._error(HTTPStatus.BAD_REQUEST, str(error))
                    return
                self._reply(HTTPStatus.OK, state_body(state(), markers), "application/json")
            elif parts.path == "/favicon.ico":
                self._reply(HTTPStatus.NO_CONTENT, b"", "image/x-icon", cache=True)
            elif parts.path in ASSETS:
                name, content_type = ASSETS[parts.path]
                self._reply(HTTPStatus.OK, load_asset(name), content_type, cache=parts.path != "/")
            else:
                self._error(HTTPStatus.NOT_FOUND, "no such page")

    return Handler


class DashboardServer(BackgroundHTTPServer):
    """The dashboard in a daemon thread; port 0 picks a free port. OSError if the port is taken."""

    def __init__(self, state: Callable[[], dict[str, Any]], port: int, host: str = "127.0.0.1") -> None:
        super().__init__(_handler_class(state), host, port, name="dashboard", poll_interval=0.1)
