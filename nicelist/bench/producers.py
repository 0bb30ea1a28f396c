"""The producer side, in-process: SQS requests per 1,000 updates, and the enqueue API's own CPU.

Requests are counted on each sender's SQS client (``SqsCounter``) against moto (``mock_aws``):
the enqueue API (``producers.api.create_app``, driven by Flask's test client) with arrays of 100
and with single updates, the SDK's packing ``Producer``, and the naive producer's one
``SendMessage`` per update.

CPU is measured against an SQS that answers at once (``answer_at_once``), so the figure is the
caller's work, not moto's: the API's per request (werkzeug's test client included, gunicorn's HTTP
parsing not), next to what decoding the same bodies with ``contract.jsonio`` and validating every
update alone costs, the floor for any API in Python, and the naive producer's boto3 ``SendMessage``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contract import jsonio
from contract.updates import parse_update
from nicelist.bench.counting import SqsCounter, answer_at_once
from nicelist.options import local_session
from producers import Producer, ProducerSettings
from producers.api import create_app

API_KEY = "bench-key"
ARRAY = 100  # updates per request of a busy producer (the demo's and the spike test's)
HEADERS = {"x-api-key": API_KEY, "content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class SqsFigures:
    """One way of sending: its SQS requests, billed requests, and how long the sends took."""

    name: str
    updates: int
    requests: int
    billed: int
    messages: int
    bytes_sent: int
    seconds: float
    http_requests: int = 0  # API requests (0: no API on this path)

    @property
    def per_1000(self) -> float:
        return 1000 * self.requests / self.updates

    @property
    def billed_per_1000(self) -> float:
        return 1000 * self.billed / self.updates


def _bodies(updates: Sequence[dict[str, Any]], size: int) -> list[bytes]:
    chunks = [updates[i : i + size] for i in range(0, len(updates), size)]
    return [json.dumps(chunk if size > 1 else chunk[0], separators=(",", ":")).encode() for chunk in chunks]


def _settings(queue_url: str) -> ProducerSettings:
    return ProducerSettings(stage="bench", queue_url=queue_url, api_keys=(API_KEY,))


def _post_all(app: Any, bodies: Sequence[bytes]) -> None:
    client = app.test_client()
    for body in bodies:
        response = client.post("/v1/updates", data=body, headers=HEADERS)
        if response.status_code != 202:
            raise RuntimeError(f"the API answered {response.status_code}: {response.get_data(as_text=True)[:200]}")


def _measured(name: str, session: Any, send: Callable[[Any, str], int], updates: int) -> SqsFigures:
    sqs = session.client("sqs")
    url = sqs.create_queue(QueueName=f"nicelist-bench-{name}")["QueueUrl"]
    counter = SqsCounter().attach(sqs)
    started = time.perf_counter()
    http_requests = send(sqs, url)
    seconds = time.perf_counter() - started
    return SqsFigures(
        name, updates, counter.requests, counter.billed, counter.messages_sent, counter.bytes_sent, seconds,
        http_requests,
    )  # fmt: skip


def sqs_requests(session: Any, updates: Sequence[dict[str, Any]], singles: int) -> dict[str, SqsFigures]:
    """Each way sends ``updates`` (singles: the first ``singles`` of them, one request each)."""
    arrays, one_by_one = _bodies(updates, ARRAY), _bodies(updates[:singles], 1)

    def api(bodies: list[bytes]) -> Callable[[Any, str], int]:
        def send(sqs: Any, url: str) -> int:
            _post_all(create_app(_settings(url), sqs=sqs), bodies)
            return len(bodies)

        return send

    def sdk(sqs: Any, url: str) -> int:
        with Producer.from_sqs(sqs, url, settings=_settings(url), background=False, exit_timeout_seconds=None) as p:
            p.add_many(updates)
        return 0

    def naive(sqs: Any, url: str) -> int:
        for body in one_by_one:
            sqs.send_message(QueueUrl=url, MessageBody=body.decode())
        return 0

    return {
        "api_arrays": _measured("api-arrays", session, api(arrays), len(updates)),
        "api_singles": _measured("api-singles", session, api(one_by_one), singles),
        "sdk": _measured("sdk", session, sdk, len(updates)),
        "naive": _measured("naive", session, naive, singles),
    }


@dataclass(frozen=True, slots=True)
class CpuFigures:
    """CPU milliseconds per 1,000 updates (``time.process_time``: this process, every thread)."""

    api_arrays: float
    api_singles: float
    floor: float  # decoding and validating the arrays' bodies, nothing else
    naive_producer: float  # boto3 SendMessage per update

    @property
    def api_over_floor(self) -> float:
        return self.api_arrays / self.floor if self.floor else 0.0


def _cpu_ms_per_1000(updates: int, work: Callable[[], None]) -> float:
    started = time.process_time()
    work()
    return 1000 * (time.process_time() - started) * 1000 / updates


def _instant_sqs() -> Any:
    # dummy credentials; no endpoint is ever reached: every send is answered by the hook
    return answer_at_once(local_session("us-east-1").client("sqs"))


def api_cpu(updates: Sequence[dict[str, Any]], singles: int) -> CpuFigures:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/nicelist-bench-updates"
    arrays, one_by_one = _bodies(updates, ARRAY), _bodies(updates[:singles], 1)
    app = create_app(_settings(url), sqs=_instant_sqs())
    _post_all(app, arrays[:2])  # warm: routes, key check, boto3 models
    sqs = _instant_sqs()
    sqs.send_message(QueueUrl=url, MessageBody="{}")

    def floor() -> None:
        now = datetime.now(UTC)
        for body in arrays:
            for index, item in enumerate(jsonio.loads_utf8(body)):
                parse_update(item, index, now=now)

    def naive() -> None:
        for body in one_by_one:
            sqs.send_message(QueueUrl=url, MessageBody=body.decode())

    return CpuFigures(
        api_arrays=_cpu_ms_per_1000(len(updates), lambda: _post_all(app, arrays)),
        api_singles=_cpu_ms_per_1000(singles, lambda: _post_all(app, one_by_one)),
        floor=_cpu_ms_per_1000(len(updates), floor),
        naive_producer=_cpu_ms_per_1000(singles, naive),
    )
