"""``nicelist send`` under moto: files and synthetic mixes reach the queue; bad lines are reported."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from contract.updates import parse_body
from nicelist.cli import main
from nicelist.send import Report, read_records, validate


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "NICELIST_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    # a stage on "AWS" (moto in-process); the stage `local` would mean nicelist up's embedded AWS
    monkeypatch.setenv("NICELIST_STAGE", "dev")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        client = boto3.client("sqs", region_name="eu-west-1")
        client.create_queue(QueueName="nicelist-dev-updates")
        yield client


def queued_ids(sqs: Any) -> list[str]:
    url = sqs.get_queue_url(QueueName="nicelist-dev-updates")["QueueUrl"]
    ids: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            ids += [u.child_id for u in parse_body(message["Body"]).updates]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return ids


def test_a_jsonl_file_with_a_bad_line_sends_the_rest_and_exits_1(sqs: Any, tmp_path: Path) -> None:
    good = {"kind": "status", "child_id": "c-1", "status": "nice", "observed_at": "2026-12-23T18:04:05Z"}
    lines = [json.dumps(good), "{not json", "", json.dumps(good | {"child_id": "c-2", "status": "meh"})]
    lines.append(json.dumps(good | {"child_id": "c-3"}))
    path = tmp_path / "updates.jsonl"
    path.write_text("\n".join(lines) + "\n")

    result = CliRunner().invoke(main, ["send", str(path), "--json"])

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["sent"] == 2 and report["total"] == 4 and report["unsent"] == 0
    assert [r["line"] for r in report["rejected"]] == [2, 4]
    assert "status" in report["rejected"][1]["reasons"][0]
    assert sorted(queued_ids(sqs)) == ["c-1", "c-3"]


def test_a_csv_file_is_sent_and_exits_0(sqs: Any, tmp_path: Path) -> None:
    path = tmp_path / "updates.csv"
    path.write_text(
        "kind,child_id,status,reason,lat,lon,accuracy_m,observed_at\n"
        "status,c-1,naughty,ate the cookies,,,,2026-12-23T18:04:05Z\n"
        "location,c-2,,,51.5,-0.12,12.5,2026-12-23T18:04:06+00:00\n"
    )

    result = CliRunner().invoke(main, ["send", str(path)])

    assert result.exit_code == 0, result.output
    assert "sent 2 of 2" in result.stdout
    assert sorted(queued_ids(sqs)) == ["c-1", "c-2"]


def test_generate_sends_a_synthetic_mix_and_reports_the_broken_ones(sqs: Any) -> None:
    result = CliRunner().invoke(main, ["send", "--generate", "3000", "--children", "300", "--invalid", "3", "--json"])

    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert report["sent"] == 2997 and len(report["rejected"]) == 3
    assert report["requests"] <= 2  # 2997 updates fit a few envelopes of one or two calls
    assert len(queued_ids(sqs)) == 2997


def test_a_missing_queue_is_a_clean_error(sqs: Any) -> None:
    result = CliRunner().invoke(main, ["send", "--generate", "5", "--stage", "absent"])
    assert result.exit_code != 0 and "cannot find the queue" in result.output


def test_file_or_generate_is_required(sqs: Any) -> None:
    assert CliRunner().invoke(main, ["send"]).exit_code == 2


@settings(max_examples=100, deadline=None)
@given(
    line=st.one_of(
        st.text(max_size=200).filter(lambda t: "\n" not in t and "\r" not in t),
        st.sampled_from(["[" * 100_000, '{"a":1,"a":2}', '{"lat":NaN}', "9" * 5_000, '{"x":1e400}']),
    )
)
def test_any_line_of_a_file_is_a_record_or_a_line_rejected_never_a_crash(line: str) -> None:
    report = Report()
    validate(read_records(io.StringIO(line + "\n"), "jsonl"), report)
    assert report.total == (1 if line.strip() else 0)
