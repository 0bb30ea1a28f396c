"""The enqueue HTTP API (docs/design.md, "The enqueue API"): ``producers.api:app`` for zappa and gunicorn.

``POST /v1/updates`` answers 202 only after SQS confirmed every message of the request;
anything short of that is a 503 with ``Retry-After`` (a retried request may duplicate some
updates, which the writer absorbs: the newest ``observed_at`` wins however often an update
arrives). Logs carry counts and request ids, never update bodies or coordinates.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from contract import jsonio
from contract.updates import FieldError, InvalidUpdate, LocationUpdate, StatusUpdate, parse_update
from producers.auth import ApiKeys, KeysUnavailable
from producers.exceptions import SendFailed
from producers.openapi import Accepted, ErrorBody, Health, ItemError, openapi_document
from producers.retry import RetryPolicy
from producers.sdk import send_packed
from producers.settings import ProducerSettings, get_queue_url
from producers.transport import Timing

_log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class Problem(Exception):
    """An answer other than 2xx, raised anywhere in a request and rendered as JSON."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[FieldError] | None = None,
        retry_after: int = 0,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors, self.retry_after = errors, retry_after
        self.headers = dict(headers or {})
        if retry_after:
            self.headers["Retry-After"] = str(retry_after)


# One hung SQS call must not outlast the request's send deadline (botocore's defaults are a 60 s read
# timeout and retries of its own): our retry loop, bounded by send_deadline_seconds, does the retrying.
SQS_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1, "mode": "standard"})


class _Queue:
    """The SQS client and queue URL, created on first use (importing the app makes no AWS call)."""

    def __init__(self, settings: ProducerSettings, sqs: Any | None) -> None:
        self.settings = settings
        self._sqs = sqs
        self._url = settings.queue_url
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._sqs is None:
                self._sqs = boto3.client("sqs", config=SQS_CLIENT_CONFIG)
            return self._sqs

    def url(self) -> str:
        if not self._url:
            self._url = get_queue_url(self.client(), self.settings.stage)
        return self._url


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(payload, separators=(",", ":")), status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _charsets(content_type: str) -> set[str]:
    """Every charset a Content-Type names (werkzeug keeps only the last of repeated parameters)."""
    _, *parameters = content_type.split(";")
    pairs = (parameter.partition("=") for parameter in parameters)
    return {value.strip().strip('"').lower() for name, _, value in pairs if name.strip().lower() == "charset"}


def _check_media() -> None:
    """415 for a body the API cannot read as it stands: not UTF-8 JSON, or compressed.

    Decided on the headers alone, before the body is read (under gunicorn, before ``100 Continue``).
    Compressed bodies are refused rather than inflated: the size limit would have to hold for the
    inflated bytes too, and no producer of ours compresses.
    """
    if request.mimetype != "application/json" or not _charsets(request.content_type or "") <= {"utf-8", "utf8"}:
        message = "the body must be JSON sent as Content-Type: application/json (UTF-8)"
        raise Problem(415, "unsupported_media_type", message)
    codings = [token.strip().lower() for token in request.headers.get("Content-Encoding", "").split(",")]
    if any(coding not in {"", "identity"} for coding in codings):
        message = "the body must not be compressed: send it without Content-Encoding (identity only)"
        raise Problem(415, "unsupported_media_type", message, headers={"Accept-Encoding": "identity"})


def _read_body(limit: int) -> bytes:
    """Refuse oversized bodies by their declared length, then read at most ``limit + 1`` bytes.

    The same for a Content-Length and a chunked body: exactly ``limit`` bytes are read, one more
    is 413. (Flask's ``MAX_CONTENT_LENGTH`` is ``limit + 1`` so that werkzeug's own cap, which
    raises when asked for a byte past it, never fires first.)
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise Problem(413, "body_too_large", f"the body is limited to {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= limit:
            chunk = request.stream.read(limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:  # werkzeug's own cap on a body without a length
        size = limit + 1
    if size > limit:
        raise Problem(413, "body_too_large", f"the body is limited to {limit} bytes")
    return b"".join(chunks)


def _decode(data: bytes) -> Any:
    """Strict JSON, read exactly as the writer reads a message (``contract.jsonio``)."""
    try:
        return jsonio.loads_utf8(data)
    except jsonio.BadJson as error:
        raise Problem(400, "bad_json", f"the body is not JSON: {error}") from None


def _validate(data: Any, max_updates: int, max_future_seconds: float | None) -> list[StatusUpdate | LocationUpdate]:
    """All or nothing: every update valid, or a 422 naming every problem of every bad one."""
    if isinstance(data, dict):
        items: list[Any] = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise Problem(400, "bad_json", "the body must be a JSON object (one update) or an array of updates")
    if len(items) > max_updates:
        raise Problem(413, "too_many_updates", f"at most {max_updates} updates per request")
    if not items:
        raise Problem(422, "invalid_updates", "the array is empty", [FieldError(None, "(body)", "no updates")])
    valid: list[StatusUpdate | LocationUpdate] = []
    errors: list[FieldError] = []
    now = datetime.now(UTC)  # one instant for the whole request: its updates are judged alike
    for index, item in enumerate(items):
        try:
            valid.append(parse_update(item, index, max_future_seconds=max_future_seconds, now=now))
        except InvalidUpdate as invalid:
            errors.extend(invalid.errors)
    if errors:
        bad = len({error.index for error in errors})
        message = f"{bad} of {len(items)} updates are invalid; none were accepted"
        raise Problem(422, "invalid_updates", message, errors)
    return valid


def _render(problem: Problem) -> Response:
    errors = None
    if problem.errors is not None:
        errors = [ItemError(**e.as_dict()) for e in problem.errors]
    body = ErrorBody(error=problem.code, message=problem.message, errors=errors)
    payload = body.model_dump()
    if errors is None:
        del payload["errors"]
    return _json(problem.status, payload, problem.headers)


def _request_id() -> str:
    context = request.environ.get("lambda.context")
    candidate = getattr(context, "aws_request_id", None) or request.headers.get("x-request-id", "")
    return candidate if _REQUEST_ID.match(candidate) else uuid.uuid4().hex


def _register_errors(app: Flask) -> None:
    @app.errorhandler(Problem)
    def problem(error: Problem) -> Response:
        return _render(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        code = (error.name or "error").lower().replace(" ", "_")
        response = _render(Problem(error.code or 500, code, error.description or code))
        if "Allow" in error.get_response().headers:
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        # Not a 2xx, so nothing is silently lost: the producer sees the failure and retries.
        _log.exception("request %s failed unexpectedly", getattr(g, "request_id", "-"))
        return _render(Problem(500, "internal_error", "internal error; retry later"))


def create_app(
    settings: ProducerSettings | None = None,
    sqs: Any | None = None,
    ssm: Any | None = None,
    timing: Timing | None = None,
) -> Flask:
    """Build the WSGI app. Tests inject a moto or stubbed ``sqs``; nothing touches AWS until a request."""
    settings = settings or ProducerSettings()
    queue = _Queue(settings, sqs)
    ssm_client: Callable[[], Any] = (lambda: ssm) if ssm is not None else (lambda: boto3.client("ssm"))
    keys = ApiKeys(settings, ssm_client)
    # Retry briefly inside the request: the producer retries the whole request after a 503.
    timing = timing or Timing(RetryPolicy(0.05, 0.5, settings.send_deadline_seconds))
    document = openapi_document(settings.max_updates_per_request, settings.max_body_bytes, settings.max_future_seconds)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1  # see _read_body
    _register_errors(app)

    @app.before_request
    def tag_request() -> None:
        g.request_id = _request_id()

    @app.after_request
    def tag_response(response: Response) -> Response:
        response.headers["x-request-id"] = g.get("request_id", "-")
        return response

    @app.post("/v1/updates")
    def post_updates() -> Response:
        _authenticate(keys, settings)
        _check_media()
        data = _decode(_read_body(settings.max_body_bytes))
        updates = _validate(data, settings.max_updates_per_request, settings.max_future_seconds)
        _enqueue(queue, updates, timing)
        _log.info("request %s accepted %d updates", g.request_id, len(updates))
        return _json(202, Accepted(accepted=len(updates)).model_dump())

    @app.get("/v1/health")
    def health() -> Response:
        try:
            queue.client().get_queue_attributes(QueueUrl=queue.url(), AttributeNames=["QueueArn"])
        except (ClientError, BotoCoreError) as error:
            _log.warning("health: queue unreachable (%s)", type(error).__name__)
            body = Health(status="unavailable", queue="unreachable").model_dump()
            return _json(503, body, {"Retry-After": str(settings.retry_after_seconds)})
        return _json(200, Health(status="ok", queue="reachable").model_dump())

    @app.get("/v1/openapi.json")
    def openapi() -> Response:
        return _json(200, document)

    return app


def _authenticate(keys: ApiKeys, settings: ProducerSettings) -> None:
    try:
        known = keys.check(request.headers.get("x-api-key"))
    except KeysUnavailable:
        _log.error("request %s: API keys unavailable", g.request_id)
        raise Problem(
            503, "unavailable", "cannot check API keys; retry later", retry_after=settings.retry_after_seconds
        ) from None
    if not known:
        raise Problem(401, "unauthorized", "missing or wrong x-api-key")


def _enqueue(queue: _Queue, updates: list[StatusUpdate | LocationUpdate], timing: Timing) -> None:
    settings = queue.settings
    try:
        send_packed(updates, sqs=queue.client(), queue_url=queue.url(), settings=settings, timing=timing)
    except SendFailed as failure:
        _log.warning(
            "request %s: %d of %d updates not confirmed by SQS",
            g.request_id,
            len(failure.unsent),
            len(updates),
        )
    except (ClientError, BotoCoreError) as error:  # resolving the queue URL
        _log.warning("request %s: queue unavailable (%s)", g.request_id, type(error).__name__)
    else:
        return
    message = "the queue did not confirm every update; retry the whole request (duplicates are harmless)"
    raise Problem(503, "queue_unavailable", message, retry_after=settings.retry_after_seconds)


class _LazyApp:
    """``producers.api:app``: the real app is built on the first request, so importing reads no AWS."""

    def __init__(self) -> None:
        self._app: Flask | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = create_app()
        return self._app(environ, start_response)


app = _LazyApp()
