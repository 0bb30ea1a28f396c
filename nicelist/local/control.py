"""The runtime's control endpoint on 127.0.0.1: read stats, change tuning while running.

``GET /stats``, ``GET /tuning`` and ``GET /timeline`` (per second: the pollers the ramp allowed and
the peak of invocations in flight) return JSON; ``POST /tuning`` with a JSON object of changes
(``reserved_concurrency``, ``maximum_concurrency``, ``batch_size``, ``batching_window_seconds``) applies
them and returns the new tuning, or 400 with ``{"error": ...}``. The client half is used by
``nicelist tune``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from nicelist.local.background_http import BackgroundHTTPServer
from nicelist.local.config import ConfigError, Tuning
from nicelist.local.stats import StatsSnapshot

DEFAULT_CONTROL_PORT = 4599
DEFAULT_CONTROL_URL = f"http://127.0.0.1:{DEFAULT_CONTROL_PORT}"


class Controllable(Protocol):
    @property
    def tuning(self) -> Tuning: ...

    def stats(self) -> StatsSnapshot: ...

    def timeline(self) -> list[dict[str, int]]: ...

    def tune(self, **changes: Any) -> Tuning: ...


class ControlError(RuntimeError):
    """The control endpoint refused a request or could not be reached."""


def _handler_class(target: Controllable) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/stats":
                self._reply(HTTPStatus.OK, target.stats().as_dict())
            elif self.path == "/tuning":
                self._reply(HTTPStatus.OK, target.tuning.as_dict())
            elif self.path == "/timeline":
                self._reply(HTTPStatus.OK, {"timeline": target.timeline()})
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})

        def do_POST(self) -> None:
            if self.path != "/tuning":
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})
                return
            try:
                changes = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                if not isinstance(changes, dict):
                    raise ConfigError("the body must be a JSON object")
                tuning = target.tune(**changes)
            except (ConfigError, json.JSONDecodeError) as error:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": str(error)})
                return
            self._reply(HTTPStatus.OK, tuning.as_dict())

    return Handler


class ControlServer(BackgroundHTTPServer):
    """The tuning endpoint on 127.0.0.1 in a daemon thread; port 0 picks a free port."""

    def __init__(self, target: Controllable, port: int) -> None:
        super().__init__(_handler_class(target), "127.0.0.1", port, name="control", poll_interval=0.05)


def request(url: str, path: str, changes: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    """GET (no changes) or POST JSON to the control endpoint; ControlError on refusal or no answer."""
    data = None if changes is None else json.dumps(changes).encode()
    call = urllib.request.Request(  # noqa: S310 - a URL the operator chose, http only in practice
        url.rstrip("/") + path, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(call, timeout=timeout) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as error:
        detail = json.load(error).get("error", error.reason)
        raise ControlError(f"{url}{path}: {detail}") from error
    except (urllib.error.URLError, OSError) as error:
        raise ControlError(f"cannot reach the writer runtime at {url}: {error}") from error
