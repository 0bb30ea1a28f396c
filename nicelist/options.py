"""Options every operator command shares, spelled like the AWS CLI's."""

from __future__ import annotations

import functools
import os
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

    @property
    def is_local(self) -> bool:
        """The ``local`` stage lives on the embedded AWS of ``nicelist up`` unless told otherwise."""
        return self.stage == "local" and not self.profile and not self.endpoint_url and not _env_endpoint()

    @property
    def endpoint(self) -> str | None:
        """The endpoint every client of this target uses (None: boto3's chain decides)."""
        return LOCAL_ENDPOINT if self.is_local else self.endpoint_url

    def session(self) -> boto3.Session:
        if self.is_local:
            return local_session(self.region)
        return boto3.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]


LOCAL_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_REGION = "us-east-1"
# moto accepts any credentials; fixed dummy ones mean real ones in the shell are never sent anywhere.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def local_session(region: str | None = None) -> boto3.Session:
    """A session for the embedded AWS: dummy credentials, the local region."""
    return boto3.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=region or LOCAL_REGION,
    )


def _env_endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL")


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
            click.option(
                "--endpoint-url",
                default=None,
                help="AWS endpoint (default: boto3's chain; for --stage local, the embedded AWS of nicelist up).",
            ),
        ]
    ):
        decorated = option(decorated)
    return decorated
