"""A program that exits without ``close()``: the Producer flushes at interpreter exit, within a bound.

GIVEN moto server (``tests.handlers.stack``) and a script that builds a ``Producer.from_sqs``, adds
updates and simply ends, WHEN the interpreter exits, THEN the updates are in the queue; and when
SQS refuses everything or never answers, the process still exits within the bound and stderr
names how many updates were not sent (never their contents).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contract.updates import parse_body
from tests.handlers.stack import REPO, drain

COUNT = 25
DEFAULT_EXIT_TIMEOUT = 5.0  # producers.sdk.DEFAULT_EXIT_TIMEOUT_SECONDS
SLACK = 2.5  # interpreter teardown on a busy 2-core machine

SCRIPT = """
import os

import boto3

from producers import Producer


def main():
    sqs = boto3.client("sqs", region_name="us-east-1")
    if os.environ.get("REFUSE"):
        from botocore.awsrequest import AWSResponse

        def refuse(**_):
            error = {"Error": {"Code": "ServiceUnavailable", "Message": "refused"}}
            return AWSResponse("https://sqs", 503, {}, None), error | {"ResponseMetadata": {"HTTPStatusCode": 503}}

        sqs.meta.events.register("before-call.sqs.SendMessageBatch", refuse)
    options = {"linger_seconds": 3600.0, "background": os.environ.get("BACKGROUND", "1") == "1"}
    if "EXIT_TIMEOUT" in os.environ:
        value = os.environ["EXIT_TIMEOUT"]
        options["exit_timeout_seconds"] = None if value == "none" else float(value)
    producer = Producer.from_sqs(sqs, os.environ["QUEUE_URL"], **options)
    for i in range(int(os.environ["COUNT"])):
        producer.add({"kind": "location", "child_id": f"kid-{i:04d}", "lat": 51.5072, "lon": -0.1276,
                      "observed_at": "2026-12-24T18:00:00Z"})
    return producer


kept = main()
if not os.environ.get("KEEP"):
    del kept  # now only the producer's own thread holds it
print("added", flush=True)
# no close(): the interpreter exits here
"""


def run_script(tmp_path: Path, endpoint: str, queue_url: str, **env: str) -> tuple[float, str, str]:
    """Run the script; return (seconds from "added" to exit, stdout, stderr)."""
    script = tmp_path / "exits_without_close.py"
    script.write_text(SCRIPT)
    environment = os.environ | {
        "AWS_ENDPOINT_URL": endpoint,
        "QUEUE_URL": queue_url,
        "COUNT": str(COUNT),
        "PYTHONPATH": str(REPO),
    }
    environment.pop("AWS_PROFILE", None)
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=environment | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    started = time.monotonic()
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise
    elapsed = time.monotonic() - started
    assert first == "added\n", stderr
    return elapsed, stdout, stderr


@pytest.fixture
def queue_url(sqs: Any, request: pytest.FixtureRequest) -> str:
    name = "exit-" + request.node.name.replace("[", "-").replace("]", "")[-60:]
    return str(sqs.create_queue(QueueName=name)["QueueUrl"])


def queued_children(sqs: Any, queue_url: str) -> set[str]:
    return {u.child_id for message in drain(sqs, queue_url) for u in parse_body(message["Body"]).updates}


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers: SQS hanging."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for connection in held:
            connection.close()


@pytest.mark.parametrize(
    ("background", "keep"),
    [("1", "1"), ("1", ""), ("0", "1"), ("0", "")],
    ids=["kept", "dropped", "kept-no-thread", "dropped-no-thread"],
)
def test_updates_added_without_close_are_in_the_queue_after_exit(
    tmp_path: Path, endpoint: str, sqs: Any, queue_url: str, background: str, keep: str
) -> None:
    # GIVEN a script whose producer is kept in a variable or dropped, with or without a linger thread
    env = {"BACKGROUND": background, "KEEP": keep}

    # WHEN it adds 25 updates and exits without close()
    elapsed, _, stderr = run_script(tmp_path, endpoint, queue_url, **env)

    # THEN all 25 are in the queue, quickly, and nothing was reported unsent
    assert queued_children(sqs, queue_url) == {f"kid-{i:04d}" for i in range(COUNT)}
    assert elapsed < DEFAULT_EXIT_TIMEOUT, stderr
    assert "not sent" not in stderr


def test_when_sqs_refuses_everything_exit_is_bounded_and_stderr_names_the_count(
    tmp_path: Path, endpoint: str, sqs: Any, queue_url: str
) -> None:
    # GIVEN SQS answering 503 to every SendMessageBatch (retryable: the SDK would retry for 30 s)
    # WHEN the script exits without close()
    elapsed, _, stderr = run_script(tmp_path, endpoint, queue_url, REFUSE="1")

    # THEN it gave up at the default exit bound and said, on stderr, how many updates were lost
    assert elapsed < DEFAULT_EXIT_TIMEOUT + SLACK
    assert f"{COUNT} update(s)" in stderr and "not sent" in stderr
    assert "ServiceUnavailable" in stderr
    assert "kid-" not in stderr and "51.5072" not in stderr  # counts, never children's data
    assert queued_children(sqs, queue_url) == set()


@pytest.mark.parametrize("background", ["1", "0"], ids=["linger-thread", "no-thread"])
def test_a_hanging_sqs_does_not_hold_exit_past_the_bound(tmp_path: Path, silent_endpoint: str, background: str) -> None:
    # GIVEN an endpoint that never answers (botocore would wait 60 s a read, and retry)
    queue_url = f"{silent_endpoint}/123456789012/nicelist-test-updates"

    # WHEN the script exits without close()
    elapsed, _, stderr = run_script(tmp_path, silent_endpoint, queue_url, BACKGROUND=background)

    # THEN it exits at the default bound and names the count of updates it could not confirm
    assert elapsed < DEFAULT_EXIT_TIMEOUT + SLACK
    assert f"{COUNT} update(s)" in stderr and "not sent" in stderr
    assert "kid-" not in stderr


def test_the_bound_is_configurable_and_zero_only_reports(
    tmp_path: Path, endpoint: str, sqs: Any, queue_url: str
) -> None:
    # GIVEN exit_timeout_seconds=0: nothing is sent at exit, only counted
    elapsed, _, stderr = run_script(tmp_path, endpoint, queue_url, EXIT_TIMEOUT="0", REFUSE="1")

    # THEN the process exits at once and still says what it did not send
    assert elapsed < SLACK
    assert f"{COUNT} update(s)" in stderr and "not sent" in stderr
    assert queued_children(sqs, queue_url) == set()


def test_opting_out_leaves_exit_alone(tmp_path: Path, endpoint: str, sqs: Any, queue_url: str) -> None:
    # GIVEN exit_timeout_seconds=None: the program takes care of close() itself
    elapsed, _, stderr = run_script(tmp_path, endpoint, queue_url, EXIT_TIMEOUT="none", KEEP="1")

    # THEN nothing is sent or reported at exit
    assert elapsed < SLACK
    assert stderr == ""
    assert queued_children(sqs, queue_url) == set()
