"""Spike test: HTTP producers POST arrays of updates to the enqueue API, SDK producers send to SQS.

Run by ``python -m loadtests.spike`` (which starts the local stack or targets a deployed stage, runs
this headless, waits for the drain and reconciles every acknowledged update), or by hand::

    NICELIST_SPIKE_SHAPE=burst NICELIST_SPIKE_ACCEPTED=runs/spike/accepted.jsonl \\
    locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8080 --only-summary

Users: ``HttpProducer`` (arrays, a few single updates, invalid arrays that must get 422, health
checks) and ``SdkProducer`` (``producers.sdk.Producer`` straight to SQS, each flush reported to
Locust as an ``SDK`` request, so it has its own row, latency and failures in the report).

Shapes: ``Surge``, ``Burst`` and ``Sawtooth`` (schedules in ``loadtests/shapes.py``). Headless Locust
(2.x, ``locust/main.py``) runs the first non-abstract ``LoadTestShape`` of the locustfile and has no
option to choose another (``--class-picker`` is for the web UI only), so ``NICELIST_SPIKE_SHAPE``
leaves only the named one non-abstract; without it all three are offered to the web UI's picker and
headless runs ``Surge``. Every shape ends by itself.

Settings (environment): ``NICELIST_API_KEY`` (default ``local-dev-key``), ``NICELIST_SPIKE_BATCH``
(updates per array or SDK flush, default 100), ``NICELIST_SPIKE_CHILDREN`` (default 2000),
``NICELIST_SPIKE_PACING`` (seconds between one user's requests, default 1.0; 0 for ``burst``),
``NICELIST_SPIKE_HTTP_WEIGHT``/``_SDK_WEIGHT`` (3 and 1; 0 leaves that user out),
``NICELIST_SPIKE_SEED``, the shapes' ``NICELIST_SPIKE_*``, and ``NICELIST_SPIKE_ACCEPTED``: where to
write every acknowledged update (202 from the API, confirmed by SQS for the SDK) as JSON lines, plus a
``.summary.json`` next to it, when the test stops. The SDK users' SQS client comes from boto3's own
chain (``AWS_ENDPOINT_URL_SQS``, ``AWS_PROFILE``, ...) and the queue from ``NICELIST_QUEUE_URL`` or
``NICELIST_STAGE``. One Locust process only (no workers): the record lives in this process's memory.
"""

# ``from __future__`` only sets a compiler flag (the __future__ module imports nothing), so it may
# come first; then gevent patches before anything imports ssl, urllib3 or boto3 (docs/design.md, "Known
# traps": importing boto3 before locust in one process recurses in ssl).
from __future__ import annotations

from gevent import monkey  # type: ignore[import-untyped]

monkey.patch_all()

import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from locust import LoadTestShape, User, constant_pacing, events, task  # noqa: E402
from locust.contrib.fasthttp import FastHttpUser  # noqa: E402

from contract.updates import parse_update  # noqa: E402
from loadtests.shapes import SHAPE_VARIABLE, BurstPlan, SawtoothPlan, SurgePlan, plan_from_env  # noqa: E402
from producers.exceptions import SendFailed  # noqa: E402
from producers.sdk import Producer  # noqa: E402
from producers.synthetic import generate  # noqa: E402

API_KEY = os.environ.get("NICELIST_API_KEY", "local-dev-key")
BATCH = int(os.environ.get("NICELIST_SPIKE_BATCH", "100"))
CHILDREN = int(os.environ.get("NICELIST_SPIKE_CHILDREN", "2000"))
SEED = int(os.environ.get("NICELIST_SPIKE_SEED", "23"))
ACCEPTED_PATH = os.environ.get("NICELIST_SPIKE_ACCEPTED", "")
HTTP_WEIGHT = int(os.environ.get("NICELIST_SPIKE_HTTP_WEIGHT", "3"))
SDK_WEIGHT = int(os.environ.get("NICELIST_SPIKE_SDK_WEIGHT", "1"))
SELECTED = os.environ.get(SHAPE_VARIABLE, "")
PLAN = plan_from_env()
PACING = 0.0 if PLAN.as_fast_as_possible else float(os.environ.get("NICELIST_SPIKE_PACING", "1.0"))
INVALID_BATCH = 10  # an invalid request: 10 updates, one of them broken; the API must refuse all ten
# The SDK retries; botocore must not (short timeouts, one attempt), as the README's SDK example says.
SQS_CONFIG = Config(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1}, max_pool_connections=50)


class Record:
    """What was acknowledged, kept in memory and written out once when the test stops."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.accepted_field_sum = 0  # the sum of ``accepted`` in 202 answers: must equal the API's updates
        self.requests_202 = 0
        self.sdk_confirmed = 0  # updates SQS confirmed to an SDK producer
        self.sdk_unsent = 0  # updates an SDK producer said it could not send (not acknowledged)
        self.retried = 0  # requests sent again after the connection closed before any answer
        self.unexpected: list[str] = []
        self.claimed = 0  # updates handed out to users (the burst shape ends when all are)
        self.per_second: Counter[int] = Counter()  # acknowledged updates per epoch second (the chart)
        self._seeds = itertools.count(SEED * 1_000_000)
        self._lock = threading.Lock()

    def next_seed(self) -> int:
        with self._lock:
            return next(self._seeds)

    def next_batch(self, size: int) -> list[dict[str, Any]]:
        """The next updates to send; for ``burst``, never more in total than the plan's budget."""
        with self._lock:
            if isinstance(PLAN, BurstPlan):
                size = max(0, min(size, PLAN.updates - self.claimed))
            self.claimed += size
            seed = next(self._seeds)
        return generate(size, children=CHILDREN, seed=seed) if size else []

    def accept(self, updates: list[dict[str, Any]], answer: Any) -> None:
        self.updates.extend(updates)
        self.per_second[int(time.time())] += len(updates)
        self.requests_202 += 1
        self.accepted_field_sum += int(answer.get("accepted", -1)) if isinstance(answer, dict) else -1

    def confirm(self, updates: list[dict[str, Any]]) -> None:
        self.updates.extend(updates)
        self.per_second[int(time.time())] += len(updates)
        self.sdk_confirmed += len(updates)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            for update in self.updates:
                out.write(json.dumps(update, separators=(",", ":")) + "\n")
        summary = {
            "shape": PLAN.name,
            "updates_recorded": len(self.updates),
            "accepted_field_sum": self.accepted_field_sum,
            "requests_202": self.requests_202,
            "sdk_confirmed": self.sdk_confirmed,
            "sdk_unsent": self.sdk_unsent,
            "retried_after_connection_closed": self.retried,
            "unexpected": self.unexpected[:50],
            "unexpected_count": len(self.unexpected),
            "acknowledged_per_second": {str(s): n for s, n in sorted(self.per_second.items())},
        }
        path.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def _text(response: Any) -> str:
    return str(response.text or repr(response.error))[:200]


def _closed_before_answer(response: Any) -> bool:
    """gunicorn closes idle keep-alive connections after 2 s; a POST sent on one just as it closes fails
    before the server read it, and the HTTP client (rightly) does not retry a POST by itself. Producers
    retry the whole request (the API's contract: duplicates are harmless), and so does this user, once."""
    return response.status_code == 0 and "closed" in repr(response.error).lower()


def _key(update: Any) -> tuple[str, str, str]:
    return update.child_id, update.aspect, update.revision


RECORD = Record()


class HttpProducer(FastHttpUser):
    """A producer's back-office: mostly arrays, sometimes a single update, rarely a broken one."""

    weight = max(HTTP_WEIGHT, 1)
    abstract = HTTP_WEIGHT <= 0
    wait_time = constant_pacing(PACING)
    headers = {"x-api-key": API_KEY, "content-type": "application/json"}

    def _post(self, updates: Any, name: str) -> Any:
        body = json.dumps(updates, separators=(",", ":"))
        return self.client.post("/v1/updates", data=body, headers=self.headers, name=name, catch_response=True)

    def _send(self, updates: list[dict[str, Any]], name: str, payload: Any) -> None:
        for attempt in (1, 2):
            with self._post(payload, name) as response:
                if response.status_code == 202:
                    RECORD.accept(updates, response.json())
                    response.success()
                    return
                if attempt == 1 and _closed_before_answer(response):
                    # Reported under its own name, so the retries stay visible in Locust's report.
                    response.request_meta["name"] = f"{name} (connection closed, retried)"
                    response.success()
                    RECORD.retried += 1
                    continue
                RECORD.unexpected.append(f"{name}: {response.status_code} {_text(response)}")
                response.failure(f"expected 202, got {response.status_code}")
                return

    @task(90)
    def post_array(self) -> None:
        updates = RECORD.next_batch(BATCH)
        if updates:
            self._send(updates, f"POST /v1/updates [{BATCH}]", updates)

    @task(6)
    def post_single(self) -> None:
        updates = RECORD.next_batch(1)
        if updates:
            self._send(updates, "POST /v1/updates [1]", updates[0])

    @task(2)
    def post_invalid(self) -> None:
        updates = generate(INVALID_BATCH, children=CHILDREN, seed=RECORD.next_seed(), invalid=1)
        with self._post(updates, "POST /v1/updates [invalid]") as response:
            if response.status_code == 422:
                response.success()  # the expected answer: all-or-nothing validation refused the array
            else:
                RECORD.unexpected.append(f"invalid: {response.status_code} {_text(response)}")
                response.failure(f"expected 422, got {response.status_code}")

    @task(2)
    def health(self) -> None:
        with self.client.get("/v1/health", name="GET /v1/health", catch_response=True) as response:
            if response.status_code != 200:
                RECORD.unexpected.append(f"health: {response.status_code}")
                response.failure(f"expected 200, got {response.status_code}")


class SdkProducer(User):
    """A producer with AWS credentials: ``producers.sdk.Producer`` packs and sends straight to SQS."""

    weight = max(SDK_WEIGHT, 1)
    abstract = SDK_WEIGHT <= 0
    wait_time = constant_pacing(PACING)

    def on_start(self) -> None:
        sqs = boto3.client("sqs", config=SQS_CONFIG)
        # No background thread (each task flushes) and no exit flush: on_stop closes it.
        self.producer = Producer.from_sqs(sqs, background=False, exit_timeout_seconds=None)

    def on_stop(self) -> None:
        self.producer.close()

    @task
    def send_batch(self) -> None:
        updates = RECORD.next_batch(BATCH)
        if not updates:
            return
        name = f"SQS send [{BATCH}]"
        started = time.perf_counter()
        failure: SendFailed | None = None
        added = 0  # an add() that raises has not taken its update, nor any after it
        try:
            for update in updates:
                self.producer.add(update)
                added += 1
            self.producer.flush()
        except SendFailed as error:
            failure = error
        elapsed_ms = (time.perf_counter() - started) * 1000
        unsent = {_key(update) for update in failure.unsent} if failure else set()
        confirmed = [u for u in updates[:added] if _key(parse_update(u)) not in unsent]
        RECORD.confirm(confirmed)
        if failure is not None:
            RECORD.sdk_unsent += len(failure.unsent)
            RECORD.unexpected.append(f"{name}: {failure}")
        self.environment.events.request.fire(
            request_type="SDK",
            name=name,
            response_time=elapsed_ms,
            response_length=len(confirmed),  # updates SQS confirmed (there is no response body)
            exception=failure,
            context={},
        )


def _plan_for(kind: type[SurgePlan] | type[BurstPlan] | type[SawtoothPlan]) -> Any:
    return PLAN if isinstance(PLAN, kind) else kind.from_env()


def _hidden(kind: type[SurgePlan] | type[BurstPlan] | type[SawtoothPlan]) -> bool:
    """Abstract (invisible to Locust) when another shape was chosen."""
    return bool(SELECTED) and kind.name != SELECTED


class _PlanShape(LoadTestShape):
    """Follows ``plan`` (``loadtests/shapes.py``); Locust's metaclass makes each subclass concrete."""

    abstract = True
    plan: Any = None

    def tick(self) -> tuple[int, float] | None:
        return self.plan.at(self.get_run_time(), RECORD.claimed)  # type: ignore[no-any-return,no-untyped-call]


class Surge(_PlanShape):
    """23 December: quiet, about ``factor`` x the users, quiet again."""

    abstract = _hidden(SurgePlan)
    plan = _plan_for(SurgePlan)


class Burst(_PlanShape):
    """``updates`` updates as fast as the users can send them, then over."""

    abstract = _hidden(BurstPlan)
    plan = _plan_for(BurstPlan)


class Sawtooth(_PlanShape):
    """Ramps from 1 user to ``peak_users``, dropping back at once, ``teeth`` times."""

    abstract = _hidden(SawtoothPlan)
    plan = _plan_for(SawtoothPlan)


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def _write_record(**_: Any) -> None:
    if ACCEPTED_PATH:
        RECORD.write(Path(ACCEPTED_PATH))
