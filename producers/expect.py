"""``Expect: 100-continue`` under gunicorn: answer ``100 Continue`` only for a body the API reads.

gunicorn writes ``100 Continue`` as soon as it has parsed the headers (``gunicorn.http.wsgi.create``),
before the application runs. A client that waits for it then sends a body the API refuses unread
(401, 415, or 413 by its declared length): up to the whole limit uploaded for nothing, or far more
with a lying client. PEP 3333 asks instead that a server send it when the application first reads
``wsgi.input``, which is what these two gunicorn hooks make it do:

- ``defer_continue`` (``pre_request``) turns gunicorn's eager answer off and wraps the request body
  so that its first read sends ``100 Continue``;
- ``finish_continue`` (``post_request``) marks a body that was never asked for, so gunicorn closes
  the connection: the client may or may not send the body after the final answer, so where the
  next request would start is unknown (and waiting to drain it would hold a thread).

They use gunicorn internals (``Request._expected_100_continue``, ``req.body``, ``req.unreader.sock``,
``req.must_close``, and ``Body.failed``, which gunicorn 27 checks before draining), exercised on the
wire by tests/functional/test_api_wire.py. Where one is missing the hooks step aside and
gunicorn's own behaviour stands. In Lambda, API Gateway answers ``Expect`` itself; nothing here runs.
"""

from __future__ import annotations

from typing import Any

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class DeferredContinue:
    """A gunicorn request body that sends ``100 Continue`` on its first read, never after the answer."""

    def __init__(self, body: Any, sock: Any) -> None:
        self._body = body
        self._sock = sock
        self.sent = False
        self.finished = False

    def _proceed(self) -> bool:
        if not self.sent:
            if self.finished:  # the final answer is out: a 100 now would read as the next response's
                return False
            self._sock.sendall(CONTINUE)
            self.sent = True
        return True

    def read(self, size: int | None = None) -> bytes:
        return bytes(self._body.read(size)) if self._proceed() else b""

    def readline(self, size: int | None = None) -> bytes:
        return bytes(self._body.readline(size)) if self._proceed() else b""

    def readlines(self, size: int | None = None) -> list[bytes]:
        return list(self._body.readlines(size)) if self._proceed() else []

    def __iter__(self) -> DeferredContinue:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    @property
    def failed(self) -> bool:
        """True when the body's end on the connection is unknown: gunicorn then closes, not drains."""
        return (self.finished and not self.sent) or getattr(self._body, "failed", False) is True


def defer_continue(worker: Any, req: Any) -> None:
    """gunicorn ``pre_request``: hold back ``100 Continue`` until the body is read."""
    sock = getattr(getattr(req, "unreader", None), "sock", None)
    if getattr(req, "_expected_100_continue", False) is True and sock is not None and req.body is not None:
        req._expected_100_continue = False
        req.body = DeferredContinue(req.body, sock)


def finish_continue(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """gunicorn ``post_request``: a body never asked for closes the connection."""
    body = getattr(req, "body", None)
    if isinstance(body, DeferredContinue) and not body.sent:
        body.finished = True
        req.must_close = True
