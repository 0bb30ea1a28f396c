"""The runtime's side of one execution environment: start the process, invoke it, kill it.

A timed-out invocation kills the process, as Lambda does ("Task timed out"); a process that exits is
reported as dead. Either way the environment is gone and the pool replaces it.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any, Literal

OutcomeKind = Literal["ok", "error", "timeout", "died"]
_EOF = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one invocation ended. Only ``ok`` carries a response; the others fail the whole batch."""

    kind: OutcomeKind
    response: object = None
    error: str = ""
    duration_seconds: float = 0.0


def execution_command(name: str, handler: str) -> list[str]:
    return [sys.executable, "-m", "nicelist.local.execution", "--name", name, "--handler", handler]


class ExecutionEnvironment:
    """One ``nicelist.local.execution`` process. Not thread-safe: one invocation at a time, like Lambda."""

    def __init__(
        self,
        name: str,
        handler: str,
        env: Mapping[str, str],
        *,
        log: IO[str] | None = None,
        init_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self._init_timeout = init_timeout
        self._ready = False
        self._results: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            execution_command(name, handler),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=dict(env),
            text=True,
            encoding="utf-8",
        )
        threading.Thread(target=self._read, name=f"{name}-reader", daemon=True).start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def _read(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        with stdout:
            for line in stdout:
                self._results.put(json.loads(line))
        self._results.put(_EOF)

    def _next(self, timeout: float) -> dict[str, Any] | None:
        """The next result line; raises ``queue.Empty`` on timeout, returns None at end of file."""
        return self._results.get(timeout=max(0.0, timeout))

    def _init(self) -> Outcome | None:
        """Wait for the handler import (Lambda's init phase); an Outcome if it failed."""
        try:
            ready = self._next(self._init_timeout)
        except queue.Empty:
            self.kill()
            return Outcome("timeout", error=f"{self.name}: init timed out after {self._init_timeout:g}s")
        if ready is None:
            return Outcome("died", error=f"{self.name}: exited during init ({self._process.wait()})")
        if not ready.get("ready"):
            self.kill()
            return Outcome("error", error=f"Runtime.ImportModuleError: {ready.get('init_error')}")
        self._ready = True
        return None

    def invoke(self, event: object, timeout: float, request_id: str, function_arn: str) -> Outcome:
        """Send one event and wait for the result until ``timeout`` seconds have passed."""
        if not self._ready and (failed := self._init()) is not None:
            return failed
        started = time.monotonic()
        request = {
            "event": event,
            "request_id": request_id,
            "invoked_function_arn": function_arn,
            "deadline_ms": int((time.time() + timeout) * 1000),
        }
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            result = self._next(started + timeout - time.monotonic())
        except (BrokenPipeError, OSError):
            result = None
        except queue.Empty:
            self.kill()
            return Outcome("timeout", error=f"Task timed out after {timeout:.2f} seconds")
        elapsed = time.monotonic() - started
        if result is None:
            code = self._process.wait()
            return Outcome("died", error=f"Runtime exited with error: exit status {code}", duration_seconds=elapsed)
        if result.get("ok"):
            return Outcome("ok", response=result.get("response"), duration_seconds=elapsed)
        error = f"{result.get('error_type')}: {result.get('error_message')}"
        return Outcome("error", error=error, duration_seconds=elapsed)

    def kill(self) -> None:
        self._process.kill()
        self._process.wait()
        self._close_stdin()

    def stop(self, grace: float = 2.0) -> None:
        """Close stdin (the process exits after its current invocation), then terminate, then kill."""
        self._close_stdin()
        try:
            self._process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._process.terminate()
            try:
                self._process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()

    def _close_stdin(self) -> None:
        """The reader thread owns stdout and closes it at end of file."""
        try:
            if self._process.stdin is not None:
                self._process.stdin.close()
        except OSError:
            pass
