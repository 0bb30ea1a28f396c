"""``nicelist logs``: CloudWatch Logs of a deployed stage (moto), and the local stack's log files."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from nicelist.cli import main
from nicelist.logs import CloudWatchSource, FileSource, merged, parse_line, parse_since

OPS = ["--stage", "ops", "--region", "us-east-1"]
WRITER_GROUP = "/aws/lambda/nicelist-ops-writer"
API_GROUP = "/aws/lambda/nicelist-ops-api"
NOW_MS = int(time.time() * 1000) - 60_000


def powertools(message: str, at_ms: int, level: str = "INFO", **fields: Any) -> str:
    """A line as the writer's Powertools logger writes it."""
    moment = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC)
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S,") + f"{moment.microsecond // 1000:03d}+0000"
    record = {"level": level, "location": "handle:123", "message": message, "timestamp": stamp}
    return json.dumps(record | {"service": "nicelist-writer", "cold_start": False, **fields})


EMF = json.dumps({"_aws": {"Timestamp": NOW_MS, "CloudWatchMetrics": []}, "Messages": 10})


@pytest.fixture
def logs() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1")
        for group in (WRITER_GROUP, API_GROUP):
            client.create_log_group(logGroupName=group)
            client.create_log_stream(logGroupName=group, logStreamName="2026/12/23/[$LATEST]abc")
        yield client


def put(logs: Any, group: str, *events: tuple[int, str]) -> None:
    logs.put_log_events(
        logGroupName=group,
        logStreamName="2026/12/23/[$LATEST]abc",
        logEvents=[{"timestamp": at, "message": message} for at, message in events],
    )


def test_a_deployed_stage_merges_the_writer_and_the_api_in_time_order(logs: Any) -> None:
    # GIVEN the writer's JSON lines, Lambda's framing, an EMF document, and the API's Lambda text lines
    put(
        logs,
        WRITER_GROUP,
        (NOW_MS, "START RequestId: r-1 Version: $LATEST"),
        (NOW_MS + 10, powertools("batch done", NOW_MS + 10, messages=10, dynamodb={"units": 42})),
        (NOW_MS + 11, EMF),
        (NOW_MS + 30, "END RequestId: r-1"),
        (NOW_MS + 31, "REPORT RequestId: r-1\tDuration: 812.00 ms"),
    )
    put(logs, API_GROUP, (NOW_MS + 20, "[WARNING]\t2026-12-23T18:04:05.123Z\treq-9\trequest req-9: queue unavailable"))
    # WHEN reading them as JSON lines
    out = CliRunner().invoke(main, ["logs", *OPS, "--since", "1h", "--json"])
    # THEN one stream, in time order, metrics and framing left out, the raw record kept
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.output.splitlines()]
    assert [(line["component"], line["level"], line["message"][:20]) for line in lines] == [
        ("writer", "INFO", "batch done"),
        ("api", "WARNING", "request req-9: queue"),
        ("writer", "-", "REPORT RequestId: r-"),
    ]
    assert lines[0]["record"]["dynamodb"] == {"units": 42}
    assert lines[0]["time"].endswith("Z")


def test_the_pretty_form_shows_time_component_level_message_and_key_fields(logs: Any) -> None:
    put(logs, WRITER_GROUP, (NOW_MS, powertools("batch done", NOW_MS, messages=10, dynamodb={"units": 42})))
    out = CliRunner().invoke(main, ["logs", *OPS, "--component", "writer"])
    assert out.exit_code == 0, out.output
    [line] = out.output.splitlines()
    assert ' writer INFO    batch done  messages=10  dynamodb={"units":42}' in line
    assert "cold_start" not in line and "location" not in line


def test_every_page_is_read(logs: Any) -> None:
    put(logs, WRITER_GROUP, *[(NOW_MS + i, powertools(f"line {i}", NOW_MS + i)) for i in range(23)])
    calls: list[dict[str, Any]] = []
    logs.meta.events.register("provide-client-params.logs.FilterLogEvents", lambda params, **_: calls.append(params))
    lines = CloudWatchSource(logs, WRITER_GROUP, "writer", page_size=5).read(dt.datetime.fromtimestamp(0, dt.UTC))
    assert [line.message for line in lines] == [f"line {i}" for i in range(23)]
    assert len(calls) == 5 and all("nextToken" in call for call in calls[1:])


def test_following_returns_each_event_once_also_when_it_is_ingested_late(logs: Any) -> None:
    source = CloudWatchSource(logs, WRITER_GROUP, "writer")
    since = dt.datetime.fromtimestamp((NOW_MS - 1000) / 1000, dt.UTC)
    put(logs, WRITER_GROUP, (NOW_MS + 1000, powertools("first", NOW_MS + 1000)))
    assert [line.message for line in source.read(since)] == ["first"]
    # GIVEN one new event, and one that CloudWatch ingested late, stamped before the first
    put(logs, WRITER_GROUP, (NOW_MS + 2000, powertools("second", NOW_MS + 2000)))
    put(logs, WRITER_GROUP, (NOW_MS + 500, powertools("late", NOW_MS + 500)))
    assert sorted(line.message for line in source.read(since)) == ["late", "second"]
    assert source.read(since) == []


def test_filter_is_a_case_insensitive_substring(logs: Any) -> None:
    put(logs, WRITER_GROUP, (NOW_MS, powertools("batch done", NOW_MS)), (NOW_MS + 1, powertools("throttled", NOW_MS)))
    out = CliRunner().invoke(main, ["logs", *OPS, "--filter", "THROTTLED", "--json"])
    assert [json.loads(line)["message"] for line in out.output.splitlines()] == ["throttled"]


def test_a_stage_without_log_groups_exits_1() -> None:
    with mock_aws():
        out = CliRunner().invoke(main, ["logs", "--stage", "nowhere", "--region", "us-east-1"])
    assert out.exit_code == 1
    assert "no logs at /aws/lambda/nicelist-nowhere-writer" in out.output


# --- the local stack's files ------------------------------------------------------------------------


def local_run(tmp_path: Path) -> Path:
    """What `nicelist up` leaves in its run directory: writer.log (the executions' stderr), api.log."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "writer.log").write_text(
        "\n".join(
            [
                powertools("batch done", NOW_MS, messages=10),
                EMF,
                "Traceback (most recent call last):",
                '  File "x.py", line 1',
                powertools("remainder deferred", NOW_MS + 2000, "INFO", updates=3),
            ]
        )
        + "\n"
    )
    moment = dt.datetime.fromtimestamp((NOW_MS + 1000) / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
    (tmp_path / "api.log").write_text(
        f"nicelist API on http://127.0.0.1:8080 (2 workers x 8 threads)\n[{moment}] [4242] [WARNING] worker slow\n"
    )
    return tmp_path


def test_locally_the_files_nicelist_up_writes_are_merged(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["logs", "--run-dir", str(local_run(tmp_path)), "--since", "1h", "--json"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.output.splitlines()]
    got = [(line["component"], line["message"], line.get("time_inferred", False)) for line in lines]
    # the API's first line has no time (the file's mtime, now); the traceback takes the line before's
    assert got == [
        ("writer", "batch done", False),
        ("writer", "Traceback (most recent call last):", True),
        ("writer", '  File "x.py", line 1', True),
        ("api", "worker slow", False),
        ("writer", "remainder deferred", False),
        ("api", "nicelist API on http://127.0.0.1:8080 (2 workers x 8 threads)", True),
    ]


def test_the_local_stage_reads_runs_local_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    missing = CliRunner().invoke(main, ["logs"])
    assert missing.exit_code == 1 and "is `nicelist up` running from this directory?" in missing.output
    local_run(tmp_path / "runs" / "local")
    out = CliRunner().invoke(main, ["logs", "--since", "1h"])
    assert out.exit_code == 0 and "batch done" in out.output


def test_a_followed_file_yields_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "writer.log"
    path.write_text(powertools("one", NOW_MS) + "\n" + powertools("two", NOW_MS + 1)[:20])
    source = FileSource(path, "writer")
    epoch = dt.datetime.fromtimestamp(0, dt.UTC)
    assert [line.message for line in source.read(epoch)] == ["one"]
    with path.open("a") as stream:  # the rest of the line being written, and one more
        stream.write(powertools("two", NOW_MS + 1)[20:] + "\n" + powertools("three", NOW_MS + 2) + "\n")
    assert [line.message for line in source.read(epoch)] == ["two", "three"]
    assert source.read(epoch) == []


def test_follow_prints_new_lines_until_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = local_run(tmp_path)
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) > 1:
            raise KeyboardInterrupt
        with (run / "writer.log").open("a") as stream:
            stream.write(powertools("arrived while following", int(time.time() * 1000)) + "\n")

    monkeypatch.setattr("nicelist.logs.time.sleep", sleep)
    out = CliRunner().invoke(main, ["logs", "--run-dir", str(run), "--follow", "--interval", "0.5"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1].endswith("arrived while following")
    assert polls == [0.5, 0.5]


# --- parsing ---------------------------------------------------------------------------------------


def test_since_takes_durations_and_times() -> None:
    now = dt.datetime(2026, 12, 23, 18, 0, tzinfo=dt.UTC)
    assert parse_since("10m", now) == now - dt.timedelta(minutes=10)
    assert parse_since("1.5h", now) == now - dt.timedelta(minutes=90)
    assert parse_since("2026-12-23T17:00:00Z", now) == now - dt.timedelta(hours=1)
    assert CliRunner().invoke(main, ["logs", "--since", "yesterday", *OPS]).exit_code == 2


def test_lines_that_are_not_log_lines_are_skipped() -> None:
    assert parse_line(EMF, "writer") is None
    assert parse_line("START RequestId: x Version: $LATEST", "writer") is None
    assert parse_line("   ", "writer") is None
    assert merged([], dt.datetime.fromtimestamp(0, dt.UTC), None) == []
