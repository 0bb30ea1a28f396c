"""Spike test of the enqueue API: producers POST arrays of updates, a few singles and invalid ones.

Run by ``python -m loadtests.spike`` (which starts the local stack, runs this headless and checks
that every accepted update reached the table), or by hand against a running stack::

    NICELIST_SPIKE_ACCEPTED=runs/spike/accepted.jsonl \\
    locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8080 --only-summary

Settings (environment): ``NICELIST_API_KEY`` (default ``local-dev-key``), ``NICELIST_SPIKE_BATCH``
(updates per array, default 100), ``NICELIST_SPIKE_CHILDREN`` (default 2000), ``NICELIST_SPIKE_PACING``
(seconds between one user's requests, default 1.0), ``NICELIST_SPIKE_SEED``, the shape's
``NICELIST_SPIKE_*`` (see ``loadtests/shapes.py``), and ``NICELIST_SPIKE_ACCEPTED``: where to write
every update that got a 202 (JSON lines) plus a ``.summary.json`` next to it, when the test stops.
One Locust process only (no ``--processes``/workers): the record lives in this process's memory.
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
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from locust import LoadTestShape, constant_pacing, events, task  # noqa: E402
from locust.contrib.fasthttp import FastHttpUser  # noqa: E402

# No boto3 here. producers.synthetic is stdlib only, but importing it runs producers/__init__.py, which
# imports botocore.exceptions (and so ssl) through the SDK: harmless, because gevent has patched already.
from loadtests.shapes import SpikePlan  # noqa: E402
from producers.synthetic import generate  # noqa: E402

API_KEY = os.environ.get("NICELIST_API_KEY", "local-dev-key")
BATCH = int(os.environ.get("NICELIST_SPIKE_BATCH", "100"))
CHILDREN = int(os.environ.get("NICELIST_SPIKE_CHILDREN", "2000"))
PACING = float(os.environ.get("NICELIST_SPIKE_PACING", "1.0"))
SEED = int(os.environ.get("NICELIST_SPIKE_SEED", "23"))
ACCEPTED_PATH = os.environ.get("NICELIST_SPIKE_ACCEPTED", "")
INVALID_BATCH = 10  # an invalid request: 10 updates, one of them broken; the API must refuse all ten


class Record:
    """What the API accepted, kept in memory and written out once when the test stops."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.accepted_field_sum = 0  # the sum of ``accepted`` in 202 answers: must equal len(updates)
        self.requests_202 = 0
        self.retried = 0  # requests sent again after the connection closed before any answer
        self.unexpected: list[str] = []
        self._seeds = itertools.count(SEED * 1_000_000)

    def next_seed(self) -> int:
        return next(self._seeds)

    def accept(self, updates: list[dict[str, Any]], answer: Any) -> None:
        self.updates.extend(updates)
        self.requests_202 += 1
        self.accepted_field_sum += int(answer.get("accepted", -1)) if isinstance(answer, dict) else -1

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            for update in self.updates:
                out.write(json.dumps(update, separators=(",", ":")) + "\n")
        summary = {
            "updates_recorded": len(self.updates),
            "accepted_field_sum": self.accepted_field_sum,
            "requests_202": self.requests_202,
            "retried_after_connection_closed": self.retried,
            "unexpected": self.unexpected[:50],
            "unexpected_count": len(self.unexpected),
        }
        path.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def _text(response: Any) -> str:
    return str(response.text or repr(response.error))[:200]


def _closed_before_answer(response: Any) -> bool:
    """gunicorn closes idle keep-alive connections after 2 s; a POST sent on one just as it closes fails
    before the server read it, and the HTTP client (rightly) does not retry a POST by itself. Producers
    retry the whole request (the API's contract: duplicates are harmless), and so does this user, once."""
    return response.status_code == 0 and "closed" in repr(response.error).lower()


RECORD = Record()
PLAN = SpikePlan.from_env()


class Producer(FastHttpUser):
    """A producer's back-office: mostly arrays, sometimes a single update, rarely a broken one."""

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
        updates = generate(BATCH, children=CHILDREN, seed=RECORD.next_seed())
        self._send(updates, f"POST /v1/updates [{BATCH}]", updates)

    @task(6)
    def post_single(self) -> None:
        updates = generate(1, children=CHILDREN, seed=RECORD.next_seed())
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


class TwentyThirdOfDecember(LoadTestShape):
    """Quiet, a spike of ~10x the users, quiet again; returns None at the end, so Locust stops."""

    def tick(self) -> tuple[int, float] | None:
        return PLAN.at(self.get_run_time())  # type: ignore[no-untyped-call]


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def _write_record(**_: Any) -> None:
    if ACCEPTED_PATH:
        RECORD.write(Path(ACCEPTED_PATH))
