"""Output and error conventions shared by the operator commands: ``--json`` or plain lines,
and AWS errors turned into a one-line message with a non-zero exit code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError


def emit(data: Any, *, as_json: bool, lines: list[str]) -> None:
    """Print ``data`` as JSON for machines, or ``lines`` for people."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        for line in lines:
            click.echo(line)


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn boto errors into ``click.ClickException`` (exit code 1) with AWS's own message."""
    try:
        yield
    except ClientError as error:
        info = error.response.get("Error", {})
        raise click.ClickException(f"{info.get('Code', 'ClientError')}: {info.get('Message', error)}") from error
    except BotoCoreError as error:
        raise click.ClickException(str(error)) from error


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
