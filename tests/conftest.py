"""Shared test setup: never reach a real AWS account."""

from __future__ import annotations

import os
import signal

import pytest

# Fixtures shared across test folders.
pytest_plugins = ["tests.support.writer", "tests.handlers.stack"]

# Set before any boto3 client exists; moto and the local stack accept these.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "nicelist")

# The e2e tests press Ctrl-C (SIGINT) on the processes they start. A shell that starts a job in the
# background without job control starts it with SIGINT ignored, every child inherits that through
# exec, and Python then installs no KeyboardInterrupt handler: the Ctrl-C tests would time out for a
# reason that is not ours. Give the test run a handler again; exec resets it to the default in children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that needs an endpoint sets AWS_ENDPOINT_URL itself; none inherits one from the shell."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
