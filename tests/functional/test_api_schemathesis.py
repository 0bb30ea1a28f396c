"""Schemathesis against the API's own OpenAPI document, in-process over WSGI, with moto behind.

Whatever the generated request (valid by the schema or not), the API must not answer 5xx,
must answer only documented status codes, and its bodies must match the documented schemas.
Schema-valid data may still be refused with 422 (the ``observed_at`` pattern cannot say "a day
that exists in its month" or "representable in UTC"), so ``positive_data_acceptance`` is not
among the checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from moto import mock_aws
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from producers.api import create_app
from producers.settings import ProducerSettings

KEY = "schema-key"


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema() -> Iterator[Any]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
        url = sqs.create_queue(QueueName="nicelist-schema-updates")["QueueUrl"]
        app = create_app(ProducerSettings(stage="schema", api_keys=(KEY,), queue_url=url), sqs=sqs)
        yield schemathesis.openapi.from_wsgi("/v1/openapi.json", app)


def test_the_api_keeps_its_own_openapi_promises(api_schema: Any) -> None:
    # schemathesis' pytest plugin (from_fixture) does not work with this pytest; drive its
    # hypothesis strategies directly instead, one operation at a time.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/updates", "/v1/health"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            case.headers = {**(case.headers or {}), "x-api-key": KEY}
            case.call_and_validate(checks=CHECKS)

        check()
