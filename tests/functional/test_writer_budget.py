"""The budget the writers share: W and C from SSM, cached briefly, never lost to a flaky or bad value."""

from __future__ import annotations

import random
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from writer.budget import BudgetParameters
from writer.pacing import Pacer

RATE, CONCURRENCY = "/nicelist/test/write-rate", "/nicelist/test/writer-concurrency"


@pytest.fixture
def ssm() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def budget(ssm: object) -> BudgetParameters:
    return BudgetParameters(
        ssm,
        rate_parameter=RATE,
        rate_fallback=10.0,
        concurrency_parameter=CONCURRENCY,
        concurrency_fallback=2,
        max_age=0,  # no cache: every read goes to SSM
    )


def pacer(ssm: object) -> Pacer:
    return Pacer(budget(ssm), clock=lambda: 0.0, sleep=lambda _: None, rng=random.Random(1))


def put(ssm: object, name: str, value: str) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)  # type: ignore[attr-defined]


def test_without_parameters_the_fallbacks_apply(ssm: object) -> None:
    assert pacer(ssm).refresh() == 5.0


def test_the_share_follows_both_parameters_live(ssm: object) -> None:
    # GIVEN a budget of 300 WCU/s shared by 2 writers
    put(ssm, RATE, "300")
    put(ssm, CONCURRENCY, "2")
    shared = pacer(ssm)
    assert shared.refresh() == 150.0
    # WHEN the operator raises the concurrency to 3 (nicelist tune / deploy configure)
    put(ssm, CONCURRENCY, "3")
    # THEN each writer spends a third, and the table still sees 300 in all
    assert shared.refresh() == 100.0


@pytest.mark.parametrize("bad", ["0", "-5", "nan", "fast", "2.5"])
def test_a_bad_concurrency_keeps_the_last_good_one(ssm: object, bad: str) -> None:
    put(ssm, RATE, "300")
    put(ssm, CONCURRENCY, "3")
    shared = pacer(ssm)
    assert shared.refresh() == 100.0
    put(ssm, CONCURRENCY, bad)
    assert shared.refresh() == 100.0


def test_a_bad_rate_keeps_the_last_good_one(ssm: object) -> None:
    put(ssm, RATE, "300")
    shared = budget(ssm)
    assert shared.table_rate() == 300.0
    put(ssm, RATE, "inf")
    assert shared.table_rate() == 300.0
