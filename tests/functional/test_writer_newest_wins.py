"""Newest wins, whatever the delivery: any order, duplicates, batch splits, partial failures, threads.

A hypothesis property drives the handler under moto with random updates (ties on observed_at
with different contents, exact duplicates), delivered shuffled with duplicates, bare and packed,
in random batches; some first deliveries have writes throttled (emulated with before-call hooks,
moto cannot throttle) so their messages fail and are delivered again later, as SQS would.
Afterwards every STATUS and LOCATION register holds the newest update by (observed_at, revision)
and every distinct track point exists.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.envelope import encode_envelope
from contract.keys import is_track, track_key
from contract.updates import LocationUpdate, StatusUpdate, parse_update
from tests.support.events import lambda_context, sqs_record
from tests.support.fakes import FakeTime, on_fake_time
from tests.support.writer import Stage
from writer.handler import handle
from writer.processor import WriterDeps

AnyUpdate = StatusUpdate | LocationUpdate
_examples = itertools.count()


# --- the world: updates and what the table must end up holding --------------------------------


def make_update(prefix: str, kind: str, child: int, second: int, variant: int) -> dict[str, Any]:
    base = {"child_id": f"{prefix}-{child}", "observed_at": f"2026-12-23T18:00:0{second}Z"}
    if kind == "status":
        return {"kind": "status", "status": ("naughty", "nice")[variant % 2], "reason": f"r{variant}", **base}
    return {"kind": "location", "lat": float(variant), "lon": -float(variant), **base}


def expected_state(updates: Sequence[dict[str, Any]]) -> dict[tuple[str, str], AnyUpdate]:
    newest: dict[tuple[str, str], AnyUpdate] = {}
    for raw in updates:
        update = parse_update(raw)
        key = (update.child_id, update.aspect)
        if key not in newest or update.revision > newest[key].revision:
            newest[key] = update
    return newest


def expected_tracks(updates: Sequence[dict[str, Any]]) -> dict[tuple[str, str], LocationUpdate]:
    """Every distinct fix is its own track point, ties on ``observed_at`` included: exactly one fix per key."""
    points: dict[tuple[str, str], LocationUpdate] = {}
    for raw in updates:
        update = parse_update(raw)
        if isinstance(update, LocationUpdate):
            points[(update.child_id, track_key(update.revision))] = update
    return points


def assert_table_matches(stage: Stage, updates: Sequence[dict[str, Any]]) -> None:
    state = expected_state(updates)
    tracks = expected_tracks(updates)
    children = {child for child, _ in state}
    stored = {(child, sk): item for child in children for sk, item in stage.items(child).items()}
    for key, update in state.items():
        item = stored[key]
        assert item["rev"]["S"] == update.revision, f"{key}: not the newest"
        assert item["observed_at"]["S"] == update.observed_at
        if isinstance(update, StatusUpdate):
            assert item["status"]["S"] == update.status and item["reason"]["S"] == update.reason
        else:
            assert float(item["lat"]["N"]) == update.lat and float(item["lon"]["N"]) == update.lon
    stored_tracks = {key: item for key, item in stored.items() if is_track(key[1])}
    assert set(stored_tracks) == set(tracks)
    for key, item in stored_tracks.items():
        fix = tracks[key]
        assert (float(item["lat"]["N"]), float(item["lon"]["N"])) == (fix.lat, fix.lon), f"{key}: another fix"
        assert item["observed_at"]["S"] == fix.observed_at
    assert set(stored) == set(state) | set(tracks)


# --- delivery: messages, batches, failures ----------------------------------------------------


@dataclasses.dataclass
class Message:
    message_id: str
    body: str


class Throttler:
    """Throttles writes to chosen keys while ``active``, deterministically (the writer is threaded)."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.active = False
        self.unlucky: set[tuple[str, str]] = set()

    def install(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb.PutItem", self._put)
        client.meta.events.register("before-call.dynamodb.BatchWriteItem", self._batch)

    def _put(self, params: dict[str, Any], **_: Any) -> Any:
        item = json.loads(params["body"])["Item"]
        if self.active and (item["child_id"]["S"], item["sk"]["S"]) in self.unlucky:
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "emulated"}}
            return SimpleNamespace(status_code=400, headers={}), error
        return None

    def _batch(self, params: dict[str, Any], **_: Any) -> Any:
        if not self.active:
            return None
        [(table, writes)] = json.loads(params["body"])["RequestItems"].items()
        left = [w for w in writes if (w["PutRequest"]["Item"]["child_id"]["S"], "LOC") in self.unlucky]
        done = [w for w in writes if w not in left]
        if done:
            self.stage.dynamodb.batch_write_item(RequestItems={table: done})
        return SimpleNamespace(status_code=200, headers={}), {"UnprocessedItems": {table: left} if left else {}}


def one_attempt_on_fake_time(deps: WriterDeps) -> WriterDeps:
    """Fresh pacing per example: one attempt per write (a throttle fails it), no real sleeping."""
    return on_fake_time(deps, FakeTime(), max_attempts=1)


def deliver(stage: Stage, deps: WriterDeps, throttler: Throttler, batches: list[tuple[list[Message], bool]]) -> None:
    """Process batches in order; a failed message comes back in a later batch (with its batch, maybe),
    and what the writer deferred to the queue (remainders of partly written messages) is delivered too."""
    queue = list(batches)
    rounds = 0
    while queue or (queue := deferred(stage)):
        rounds += 1
        assert rounds < 100, "redelivery did not converge"
        messages, flaky = queue.pop(0)
        throttler.active = flaky
        records = [sqs_record(m.body, message_id=m.message_id) for m in messages]
        try:
            response = handle({"Records": records}, lambda_context(), deps)
        finally:
            throttler.active = False
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        assert failed <= {m.message_id for m in messages}
        if failed:
            # SQS gives back the failed ones; at-least-once may bring the whole batch again
            again = messages if len(failed) % 2 else [m for m in messages if m.message_id in failed]
            queue.append((again, False))


def deferred(stage: Stage) -> list[tuple[list[Message], bool]]:
    """Remainders the writer sent back to the queue, as one more batch (empty when there are none)."""
    messages = stage.sqs.receive_message(QueueUrl=stage.queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        stage.sqs.delete_message(QueueUrl=stage.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [([Message(m["MessageId"], m["Body"]) for m in messages], False)] if messages else []


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[dict[str, Any]], list[tuple[list[Message], bool]], set[tuple[str, str]]]:
    prefix = f"e{next(_examples)}"
    children = draw(st.integers(1, 3))
    pool = draw(
        st.lists(
            st.builds(
                lambda kind, child, second, variant: make_update(prefix, kind, child, second, variant),
                st.sampled_from(["status", "location"]),
                st.integers(0, children - 1),
                st.integers(0, 5),  # few distinct observed_at values: ties are common
                st.integers(0, 3),  # and so are exact duplicates
            ),
            min_size=1,
            max_size=20,
        )
    )
    extra = draw(st.lists(st.sampled_from(pool), max_size=6))  # redelivered duplicates
    stream = draw(st.permutations(pool + extra))
    messages: list[Message] = []
    rest = list(stream)
    while rest:
        size = draw(st.integers(0, min(4, len(rest))))  # 0: a bare update
        body = json.dumps(rest[0]) if size == 0 else encode_envelope(rest[:size])
        rest = rest[max(size, 1) :]
        messages.append(Message(f"{prefix}-m{len(messages)}", body))
    batches: list[tuple[list[Message], bool]] = []
    while messages:
        size = draw(st.integers(1, min(10, len(messages))))
        batches.append((messages[:size], draw(st.booleans())))
        messages = messages[size:]
    # throttled keys: a child's STATUS or LOCATION register, or its track points ("LOC")
    keys = [(f"{prefix}-{c}", sk) for c in range(children) for sk in ("STATUS", "LOCATION", "LOC")]
    unlucky = draw(st.sets(st.sampled_from(keys), min_size=1))
    return pool, batches, unlucky


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_newest_wins_in_any_delivery(stage: Stage, scenario: Any) -> None:
    # GIVEN random updates delivered shuffled, duplicated, split, some first deliveries throttled
    pool, batches, unlucky = scenario
    deps = one_attempt_on_fake_time(_deps_for(stage))
    throttler = _cache[id(stage)][1]
    throttler.unlucky = unlucky
    # WHEN every message has been delivered until it succeeded
    deliver(stage, deps, throttler, batches)
    # THEN the table holds the newest state and every track point
    assert_table_matches(stage, pool)


# One set of deps and hooks per test (per moto mock); children are namespaced per example.
_cache: dict[int, tuple[WriterDeps, Throttler]] = {}


def _deps_for(stage: Stage) -> WriterDeps:
    if id(stage) not in _cache:
        _cache.clear()
        deps = stage.deps()
        throttler = Throttler(stage)
        throttler.install(deps.dynamodb)
        _cache[id(stage)] = (deps, throttler)
    return _cache[id(stage)][0]


# --- concurrent invocations -------------------------------------------------------------------


def batches_of(updates: list[dict[str, Any]], rng: random.Random) -> Iterator[list[Message]]:
    """Random envelopes of 1-8 updates, 1-10 messages a batch."""
    ids = itertools.count()
    rest = list(updates)
    while rest:
        messages = []
        for _ in range(rng.randint(1, 10)):
            if not rest:
                break
            size = rng.randint(1, 8)
            messages.append(Message(f"m{next(ids)}", encode_envelope(rest[:size])))
            rest = rest[size:]
        yield messages


def test_concurrent_invocations_on_overlapping_children_keep_the_newest(stage: Stage) -> None:
    # GIVEN 600 updates about 4 children, shuffled with duplicates, in ~20 batches
    rng = random.Random(2312)
    pool = [
        make_update("t", rng.choice(["status", "location"]), rng.randrange(4), rng.randrange(10), rng.randrange(50))
        for _ in range(500)
    ]
    stream = pool + rng.choices(pool, k=100)
    rng.shuffle(stream)
    batches = list(batches_of(stream, rng))
    # WHEN 4 threads process them at once: two share one execution's deps, two have their own
    shared = stage.deps(write_rate=1e6)
    deps = [shared, shared, stage.deps(write_rate=1e6), stage.deps(write_rate=1e6)]
    barrier = threading.Barrier(4)

    def run(worker: int) -> int:
        barrier.wait()
        failed = 0
        for messages in batches[worker::4]:
            records = [sqs_record(m.body, message_id=m.message_id) for m in messages]
            failed += len(handle({"Records": records}, lambda_context(), deps[worker])["batchItemFailures"])
        return failed

    with ThreadPoolExecutor(max_workers=4) as pool_:
        assert sum(pool_.map(run, range(4))) == 0
    # THEN the registers hold the newest observations and every track point exists
    assert_table_matches(stage, pool)
