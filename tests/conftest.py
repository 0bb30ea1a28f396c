"""Shared test setup: never reach a real AWS account."""

from __future__ import annotations

import os

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


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that needs an endpoint sets AWS_ENDPOINT_URL itself; none inherits one from the shell."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
