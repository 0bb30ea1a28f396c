"""Where operator commands act: the local stage on the embedded AWS, every other stage through boto3's chain."""

from __future__ import annotations

import pytest

from nicelist.options import LOCAL_ENDPOINT, AwsTarget


def test_the_local_stage_targets_the_embedded_aws_with_dummy_credentials() -> None:
    target = AwsTarget("local")
    assert target.endpoint == LOCAL_ENDPOINT
    credentials = target.session().get_credentials()
    assert credentials is not None and credentials.access_key == "testing"
    assert target.client("sqs").meta.endpoint_url == LOCAL_ENDPOINT


@pytest.mark.parametrize(
    "target",
    [
        AwsTarget("prod", region="eu-west-1"),
        AwsTarget("local", region="eu-west-1", endpoint_url="http://127.0.0.1:9999"),
        AwsTarget("local", region="eu-west-1", profile="someone"),
    ],
)
def test_any_other_target_is_left_to_boto3_and_the_flags(target: AwsTarget) -> None:
    assert not target.is_local
    assert target.endpoint == target.endpoint_url


def test_an_endpoint_in_the_environment_wins_over_the_local_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9998")
    assert not AwsTarget("local").is_local
    assert AwsTarget("local").endpoint is None
