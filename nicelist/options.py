"""Options every operator command shares, spelled like the AWS CLI's."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import click


@dataclass(frozen=True, slots=True)
class AwsTarget:
    """Where a command acts: a stage, and boto3's own chain for region, profile and endpoint."""

    stage: str
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    def session(self) -> boto3.Session:
        return boto3.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]


def aws_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--stage --region --profile --endpoint-url``; the command receives ``target: AwsTarget``."""

    @functools.wraps(function)
    def wrapper(
        *args: Any,
        stage: str,
        region: str | None,
        profile: str | None,
        endpoint_url: str | None,
        **kwargs: Any,
    ) -> Any:
        return function(*args, target=AwsTarget(stage, region, profile, endpoint_url), **kwargs)

    decorated: Callable[..., Any] = wrapper
    for option in reversed(
        [
            click.option("--stage", default="local", show_default=True, envvar="NICELIST_STAGE", help="Stage."),
            click.option("--region", default=None, help="AWS region (default: boto3's chain)."),
            click.option("--profile", default=None, help="AWS profile (default: boto3's chain)."),
            click.option("--endpoint-url", default=None, help="AWS endpoint (default: boto3's chain)."),
        ]
    ):
        decorated = option(decorated)
    return decorated
