"""Each `nicelist up` starts with empty logs; the previous run's are kept once, never appended to."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nicelist.local.processes import OWNER_FILE, StartupError, claim_run_dir, release_run_dir, rotate_logs


def _run(run_dir: Path, text: str) -> None:
    for name in ("writer", "api"):
        with (run_dir / f"{name}.log").open("a") as log:
            log.write(f"{name} {text}\n")


def test_a_new_run_moves_the_last_runs_logs_aside_and_keeps_one_run(tmp_path: Path) -> None:
    _run(tmp_path, "first")
    rotate_logs(tmp_path)
    _run(tmp_path, "second")
    moved = rotate_logs(tmp_path)
    _run(tmp_path, "third")

    assert sorted(p.name for p in moved) == ["api.previous.log", "writer.previous.log"]
    assert (tmp_path / "writer.log").read_text() == "writer third\n"
    assert (tmp_path / "writer.previous.log").read_text() == "writer second\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "api.log",
        "api.previous.log",
        "writer.log",
        "writer.previous.log",
    ]


def test_an_empty_run_directory_is_fine(tmp_path: Path) -> None:
    assert rotate_logs(tmp_path) == []


def test_a_second_stack_may_not_take_a_run_directory_in_use(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / OWNER_FILE).write_text(f"{other.pid}\n")
        with pytest.raises(StartupError, match=f"pid {other.pid}"):
            claim_run_dir(tmp_path)
    finally:
        other.kill()
        other.wait()
    claim_run_dir(tmp_path)  # its owner is gone: the directory is free again
    assert (tmp_path / OWNER_FILE).read_text() == f"{os.getpid()}\n"
    release_run_dir(tmp_path)
    assert not (tmp_path / OWNER_FILE).exists()
