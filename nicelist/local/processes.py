"""Child processes of the local stack: started with a readiness check, always stopped, never orphaned."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO


class StartupError(RuntimeError):
    """A component of the local stack did not come up; its log says why."""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StartupError(f"process exited with code {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise StartupError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


class ChildProcess:
    """One named child (moto server, the meter, the API server) with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, port: int | None = None, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # A new process group, so Ctrl-C reaches us first and we stop children in order.
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        if port is not None:
            try:
                wait_for_port(host, port, timeout, self.process)
            except StartupError as error:
                self.stop()
                raise StartupError(f"{self.name}: {error}; see {self.log_path}") from None

    def stop(self, grace: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


PREVIOUS_SUFFIX = ".previous.log"
OWNER_FILE = "stack.pid"


def claim_run_dir(run_dir: Path) -> None:
    """Make this process the run directory's one stack, or refuse: a second stack there would move
    the first one's logs aside while it still writes them."""
    owner = run_dir / OWNER_FILE
    try:
        pid = int(owner.read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None and pid != os.getpid() and _alive(pid):
        raise StartupError(f"another `nicelist up` (pid {pid}) runs in {run_dir}; stop it or pass another --run-dir")
    owner.write_text(f"{os.getpid()}\n")


def release_run_dir(run_dir: Path) -> None:
    owner = run_dir / OWNER_FILE
    try:
        if int(owner.read_text().strip()) == os.getpid():
            owner.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def rotate_logs(run_dir: Path) -> list[Path]:
    """Start a run with empty logs: every ``<name>.log`` of the last run becomes ``<name>.previous.log``
    (replacing the one before), so a run directory holds at most two runs' logs and ``nicelist logs``
    reads only the current one. Returns the files moved aside."""
    moved = []
    for path in sorted(run_dir.glob("*.log")):
        if path.name.endswith(PREVIOUS_SUFFIX):
            continue
        target = path.with_name(path.name.removesuffix(".log") + PREVIOUS_SUFFIX)
        path.replace(target)
        moved.append(target)
    return moved


def python_module(module: str, *args: str) -> list[str]:
    """argv running ``module`` with this interpreter (the venv's)."""
    return [sys.executable, "-m", module, *args]
