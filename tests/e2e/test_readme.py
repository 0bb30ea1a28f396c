"""The README's examples run as written against ``nicelist up``: every ``curl`` of it answers what the
README says it answers, and every Python block runs (its endpoint pointed at this test's stack)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_local_stack import nicelist_up

pytestmark = pytest.mark.e2e
README = (Path(__file__).parents[2] / "README.md").read_text()
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks(language: str) -> list[str]:
    return [body for lang, body in _BLOCK.findall(README) if lang == language]


def curl_examples() -> list[tuple[str, str, int]]:
    """(command, expected JSON body, expected status) for each curl followed by its ``# answer`` comment."""
    examples = []
    for block in blocks("sh"):
        lines = block.splitlines()
        for index, line in enumerate(lines):
            if not line.startswith("curl "):
                continue
            command = [line]
            while _continues("\n".join(command)) and index + len(command) < len(lines):
                command.append(lines[index + len(command)])
            answer = []
            for follow in lines[index + len(command) :]:
                if not follow.startswith("#"):
                    break
                answer.append(follow[1:].strip())
                if re.search(r"\s\d{3}(\s|$)", follow):
                    break
            text = " ".join(answer)
            body, status = re.match(r"(.*\})\s+(\d{3})", text).groups()  # type: ignore[union-attr]
            examples.append(("\n".join(command), body, int(status)))
    return examples


def _continues(command: str) -> bool:
    """A shell command goes on after a trailing backslash or while a single quote is open."""
    return command.endswith("\\") or command.count("'") % 2 == 1


def test_the_readme_has_examples_to_run() -> None:
    assert len(curl_examples()) >= 2 and blocks("python")


def test_the_readme_examples_answer_what_the_readme_says(tmp_path: Path) -> None:
    with nicelist_up(tmp_path) as up:
        moto, api = up.moto, up.api
        for command, body, status in curl_examples():
            run = command.replace("localhost:8080", f"127.0.0.1:{api}")
            done = subprocess.run(["bash", "-c", run], capture_output=True, text=True, timeout=30, check=False)
            printed, code = done.stdout.rsplit(" ", 1)
            assert int(code) == status, (command, done.stdout)
            assert json.loads(printed) == json.loads(body), (command, done.stdout)
        for source in blocks("python"):
            script = source.replace("http://127.0.0.1:4566", f"http://127.0.0.1:{moto}")
            done = subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False,
                env={**os.environ, "NICELIST_STAGE": "local"},
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
