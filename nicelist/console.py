"""Output and error conventions shared by the operator commands: ``--json`` or plain lines,
and AWS errors turned into a one-line message with a non-zero exit code.

Every command wraps its AWS calls in ``aws_errors``, so an error reads the same everywhere, and the
one a new user meets first (the local stack is not running) says what to do instead of only
"Could not connect to the endpoint URL".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import click
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})  # noqa: S104 - names, not a bind
START_LOCAL_STACK = "start it in another terminal with `make up` or `.venv/bin/nicelist up`"


def emit(data: Any, *, as_json: bool, lines: list[str]) -> None:
    """Print ``data`` as JSON for machines, or ``lines`` for people."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        for line in lines:
            click.echo(line)


def is_loopback(url: str | None) -> bool:
    """True for a URL on this machine: where ``nicelist up`` serves everything."""
    if not url:
        return False
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname
    except ValueError:
        return False
    return host in LOOPBACK_HOSTS


def not_running_hint(url: str, flag: str = "--endpoint-url") -> str:
    """What to say when nothing answers at ``url`` on this machine (``flag``: how to point elsewhere)."""
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return (
        f"nothing answers on {where}, so `nicelist up` is not running (or runs on other ports: pass "
        f"{flag}); {START_LOCAL_STACK}"
    )


def connection_message(error: EndpointConnectionError) -> str:
    """botocore's message, plus what to do when the endpoint is the local stack's."""
    url = str(error.kwargs.get("endpoint_url", ""))
    if is_loopback(url):
        return f"{error}: {not_running_hint(url)}"
    return str(error)


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn boto errors into ``click.ClickException`` (exit code 1) with AWS's own message."""
    try:
        yield
    except ClientError as error:
        info = error.response.get("Error", {})
        raise click.ClickException(f"{info.get('Code', 'ClientError')}: {info.get('Message', error)}") from error
    except EndpointConnectionError as error:
        raise click.ClickException(connection_message(error)) from error
    except BotoCoreError as error:
        raise click.ClickException(str(error)) from error


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
