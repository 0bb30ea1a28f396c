"""Writing a tuned concurrency back into zappa_settings.json in place (nicelist/settings_file.py)."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest

from nicelist.findings import checks_of
from nicelist.settings_file import SettingsFileError, drift_findings, load, persist_concurrency
from nicelist.tuning.model import Pollers, StageTuning

REPO_SETTINGS = Path(__file__).parents[2] / "zappa_settings.json"


def _changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]


def test_persist_changes_exactly_two_lines_of_the_real_file(tmp_path: Path) -> None:
    path = tmp_path / "zappa_settings.json"
    shutil.copy(REPO_SETTINGS, path)
    before = path.read_text()
    persisted = persist_concurrency(path, "prod", 20, 20)
    after = path.read_text()
    assert _changed_lines(before, after) == [
        '-         "lambda_concurrency": 10,',
        '+         "lambda_concurrency": 20,',
        '-             "NICELIST_CONCURRENCY": "10",',
        '+             "NICELIST_CONCURRENCY": "20",',
    ]
    assert persisted.lambda_concurrency == (10, 20)
    assert persisted.nicelist_concurrency == ("10", "20")
    document = json.loads(after)
    assert document["prod_api"]["lambda_concurrency"] == 200  # the API stage is untouched
    assert list(document) == list(json.loads(before))


def test_comments_and_layout_survive(tmp_path: Path) -> None:
    path = tmp_path / "zappa_settings.json"
    text = (
        '{\n  // keep this comment "lambda_concurrency": 1\n'
        '  "dev_writer": {"lambda_concurrency": 2, /* and this */\n'
        '    "aws_environment_variables": {"NICELIST_CONCURRENCY": "2"}},\n'
        '  "dev_api": {"lambda_concurrency": 10}\n}\n'
    )
    path.write_text(text)
    persist_concurrency(path, "dev", 6, 5)
    assert path.read_text() == text.replace('"lambda_concurrency": 2', '"lambda_concurrency": 6').replace(
        '"NICELIST_CONCURRENCY": "2"', '"NICELIST_CONCURRENCY": "5"'
    )
    assert load(path)["dev_writer"]["lambda_concurrency"] == 6


@pytest.mark.parametrize(
    "text",
    [
        '{"dev_writer": {"aws_environment_variables": {"NICELIST_CONCURRENCY": "2"}}}',  # no lambda_concurrency
        '{"dev_writer": {"lambda_concurrency": 2}}',  # no NICELIST_CONCURRENCY
        '{"prod_writer": {"lambda_concurrency": 2}}',  # no such stage
        "not json",
    ],
)
def test_what_cannot_be_edited_safely_is_left_alone(tmp_path: Path, text: str) -> None:
    path = tmp_path / "zappa_settings.json"
    path.write_text(text)
    with pytest.raises(SettingsFileError):
        persist_concurrency(path, "dev", 4, 4)
    assert path.read_text() == text


def test_drift_compares_reserved_and_the_writers_concurrency() -> None:
    document = json.loads(REPO_SETTINGS.read_text())
    assert drift_findings(document, "dev", StageTuning(reserved=2, maximum=2)) == []
    assert checks_of(drift_findings(document, "dev", StageTuning(reserved=4, maximum=2))) == [
        "drift-lambda-concurrency"
    ]
    assert checks_of(drift_findings(document, "dev", StageTuning(reserved=2, maximum=1))) == [
        "drift-nicelist-concurrency"
    ]
    # in poller mode the writers split by reserved concurrency
    polled = StageTuning(reserved=2, pollers=Pollers(2, 2))
    assert drift_findings(document, "dev", polled) == []
